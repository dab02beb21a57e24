package faulttest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/crmsync/store/redis/redistest"
)

// callbridgeBin is the callbridge executable TestMain builds.
var callbridgeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "callbridge-faulttest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	callbridgeBin = filepath.Join(dir, "callbridge")
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	build := exec.Command(gobin, "build", "-o", callbridgeBin, "github.com/callbridge/callbridge/cmd/callbridge")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "faulttest: go build ./cmd/callbridge: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// fault is one thing done to the system once playback has reached a share
// of the events.
type fault struct {
	at   float64 // share of the events played, 0..1
	what string
	do   func(r *rig) error
}

// rig is one scenario's world: a fake Asterisk, Redis, the flaky CRM and
// the callbridge instances.
type rig struct {
	t       *testing.T
	w       *workload
	ari     *fakeari.Server
	redis   *redistest.Server
	crm     *crm
	daemons []*daemon

	mu   sync.Mutex
	step string
}

// setStep records what the scenario is doing, for failure messages.
func (r *rig) setStep(format string, args ...any) {
	r.mu.Lock()
	r.step = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	r.t.Logf("%s: %s", time.Now().Format("15:04:05.000"), r.step)
}

func (r *rig) fatalf(format string, args ...any) {
	r.t.Helper()
	r.mu.Lock()
	step := r.step
	r.mu.Unlock()
	r.t.Fatalf("during %q: %s", step, fmt.Sprintf(format, args...))
}

// newRig starts Redis, the CRM, the fake Asterisk and n callbridge
// configurations (not yet running).
func newRig(t *testing.T, names ...string) *rig {
	w := load(t)
	r := &rig{t: t, w: w}
	r.redis = redistest.Start(t)
	r.crm = newCRM(crmSecret)
	t.Cleanup(r.crm.close)
	srv, err := fakeari.New(fakeari.Options{Recordings: w.recs, Speed: 0, AwaitList: true, Hold: true})
	if err != nil {
		t.Fatal(err)
	}
	r.ari = srv
	t.Cleanup(srv.Close)
	for _, name := range names {
		r.daemons = append(r.daemons, newDaemon(t, name, daemonParams{
			ARIURL: srv.URL(), ARIUser: srv.Username(), ARIPass: srv.Password(),
			RedisURL: r.redis.URL(), CRMURL: r.crm.srv.URL,
		}))
	}
	// Registered last, so it runs first: the logs are still there.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, d := range r.daemons {
			t.Logf("--- last lines of %s's stderr (%s) ---\n%s", d.name, d.log, d.tail(40))
		}
		if b, err := os.ReadFile(filepath.Join(r.redis.Dir, "redis.log")); err == nil && len(b) > 0 {
			t.Logf("--- redis.log ---\n%s", b)
		}
	})
	return r
}

// play starts every daemon, plays the workload and applies the faults at
// their moments, then waits for the CRM to hold every expected activity.
func (r *rig) play(faults []fault) {
	t := r.t
	sort.Slice(faults, func(i, j int) bool { return faults[i].at < faults[j].at })
	begin := time.Now()
	r.setStep("starting %d callbridge instance(s)", len(r.daemons))
	for _, d := range r.daemons {
		if err := d.start(); err != nil {
			r.fatalf("%v", err)
		}
	}
	// Every instance hears every event from the first one on.
	r.setStep("waiting for %d instance(s) to connect to ARI", len(r.daemons))
	r.waitFor(20*time.Second, func() bool { return r.ari.Clients() == len(r.daemons) }, func() string {
		return fmt.Sprintf("%d of %d connected", r.ari.Clients(), len(r.daemons))
	})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	played := make(chan error, 1)
	r.setStep("playing %d events (%d recordings)", r.w.events, len(r.w.recs))
	go func() { played <- r.ari.Play(ctx) }()
	var playErr error
	playing := true
	for _, f := range faults {
		target := int(f.at * float64(r.w.events))
		r.setStep("playing towards event %d before %s", target, f.what)
		for playing && r.ari.Played() < target {
			select {
			case playErr = <-played:
				playing = false
			case <-time.After(2 * time.Millisecond):
			}
		}
		if !playing {
			r.fatalf("playback ended (%v) at event %d of %d before %s", playErr, r.ari.Played(), r.w.events, f.what)
		}
		r.setStep("%s at event %d of %d", f.what, r.ari.Played(), r.w.events)
		if err := f.do(r); err != nil {
			r.fatalf("%v", err)
		}
	}
	r.setStep("playing the rest of the events")
	if playing {
		playErr = <-played
	}
	if playErr != nil {
		r.fatalf("playback: %v (event %d of %d)", playErr, r.ari.Played(), r.w.events)
	}
	t.Logf("played %d events in %s", r.w.events, time.Since(begin).Round(time.Millisecond))

	r.setStep("waiting for the CRM to hold all %d expected activities", len(r.w.expected))
	r.waitFor(90*time.Second, func() bool {
		for _, d := range r.daemons {
			if !d.running() {
				r.fatalf("callbridge %s exited on its own", d.name)
			}
		}
		return r.missing() == 0
	}, func() string {
		return fmt.Sprintf("%d of %d activities never arrived:%s", r.missing(), len(r.w.expected),
			describe(r.missingIDs(), r.w.expected, 30))
	})
	t.Logf("all %d activities arrived %s after start", len(r.w.expected), time.Since(begin).Round(time.Millisecond))
	// Anything still in flight that should not be there has a moment to
	// show up before the final count.
	time.Sleep(time.Second)
}

// stop stops every instance with SIGTERM, as systemd would; each must go.
func (r *rig) stop() {
	r.setStep("stopping callbridge")
	for _, d := range r.daemons {
		if !d.stop() {
			r.t.Errorf("callbridge %s did not stop on SIGTERM within %s", d.name, stopTimeout)
		}
	}
}

// waitFor polls cond until it holds or timeout passes, then fails with
// explain's answer.
func (r *rig) waitFor(timeout time.Duration, cond func() bool, explain func() string) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			r.fatalf("gave up after %s: %s", timeout, explain())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rig) missingIDs() []string {
	got := r.crm.delivered()
	var ids []string
	for id := range r.w.expected {
		if got[id] == 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

func (r *rig) missing() int { return len(r.missingIDs()) }

// check asserts exactly-once at the CRM: every expected id stored, no
// other id, and every request a valid signed activity. Repeats of an id
// (a retry after the CRM stored it but failed to answer) are reported.
func (r *rig) check() {
	t := r.t
	got := r.crm.delivered()
	var unexpected []string
	repeats, repeated := 0, 0
	for id, n := range got {
		if _, ok := r.w.expected[id]; !ok {
			unexpected = append(unexpected, id)
		}
		if n > 1 {
			repeated++
			repeats += n - 1
		}
	}
	if missing := r.missingIDs(); len(missing) > 0 {
		t.Errorf("%d of %d expected activities missing at the CRM:%s", len(missing), len(r.w.expected), describe(missing, r.w.expected, 30))
	}
	if len(unexpected) > 0 {
		sort.Strings(unexpected)
		var b strings.Builder
		for i, id := range unexpected {
			if i == 10 {
				rest := unexpected[i:]
				if len(rest) > 30 {
					rest = append(rest[:30:30], "…")
				}
				fmt.Fprintf(&b, "\n  … and %d more: %s", len(unexpected)-i, strings.Join(rest, ", "))
				break
			}
			b.WriteString(r.w.explain(id, r.crm.body(id)))
		}
		t.Errorf("%d activities the recordings do not make arrived at the CRM:%s", len(unexpected), b.String())
	}
	r.crm.mu.Lock()
	bad, answers, requests := r.crm.bad, r.crm.answers, 0
	for _, n := range r.crm.attempts {
		requests += n
	}
	r.crm.mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("the CRM rejected requests that were not valid signed activities: %q", bad)
	}
	t.Logf("CRM: %d distinct activities in %d requests (ok %d, 500 %d, 429 %d, slow %d, stored-then-500 %d); %d ids stored more than once, %d repeats in all (absorbed by the idempotency key)",
		len(got), requests, answers[answerOK], answers[answerFail], answers[answerThrottle], answers[answerSlow], answers[answerStoredFail], repeated, repeats)
	t.Logf("policy dropped %v; %d events played", r.w.dropped, r.w.events)
}

// killRestart SIGKILLs d in the middle of a call and restarts it. Playback
// pauses first and d reads everything already written to it: events the
// PBX wrote to a socket that the killed process never read are lost with
// any client (Asterisk does not resend them), so what the test holds
// callbridge to is everything it had read. Playback goes on as soon as d
// is down; with Options.Hold it waits for a client again.
func killRestart(d *daemon) func(*rig) error {
	return func(r *rig) error {
		r.ari.Pause()
		defer r.ari.Resume()
		if err := d.drain(10 * time.Second); err != nil {
			return err
		}
		d.kill()
		// systemd's RestartSec is 100ms by default.
		time.Sleep(100 * time.Millisecond)
		return d.start()
	}
}

// TestKillRestartRedis: one callbridge on Redis, SIGKILLed and restarted
// three times during playback while Redis itself restarts once. Every
// activity reaches the CRM, none twice as far as the CRM can tell apart.
func TestKillRestartRedis(t *testing.T) {
	r := newRig(t, "a")
	d := r.daemons[0]
	r.play([]fault{
		{0.2, "SIGKILL and restart callbridge (1 of 3)", killRestart(d)},
		{0.45, "SIGKILL and restart callbridge (2 of 3)", killRestart(d)},
		{0.57, "restart redis-server", func(r *rig) error { return r.redis.Reload() }},
		{0.7, "SIGKILL and restart callbridge (3 of 3)", killRestart(d)},
	})
	r.stop()
	r.check()
}

// TestTwoInstances: two callbridge instances on one Redis follow the same
// Asterisk, so each makes every activity; the shared store delivers each
// once. One of them is killed and restarted halfway.
func TestTwoInstances(t *testing.T) {
	r := newRig(t, "b1", "b2")
	r.play([]fault{
		{0.5, "SIGKILL and restart callbridge b1", killRestart(r.daemons[0])},
	})
	// b2 ran throughout: its engine made every activity itself, the ones
	// the policy drops included, so each delivered activity was submitted
	// twice and the shared store kept one.
	made, err := r.daemons[1].metric("callbridge_engine_activities_total")
	if err != nil {
		t.Fatal(err)
	}
	want := len(r.w.expected)
	for _, n := range r.w.dropped {
		want += n
	}
	if int(made) != want {
		t.Errorf("b2 made %v activities, want every one of the recordings' %d", made, want)
	}
	r.stop()
	r.check()
}
