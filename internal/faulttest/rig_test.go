package faulttest

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/redis/redistest"
)

// scenario says what world a rig builds.
type scenario struct {
	rounds int     // of the workload
	speed  float64 // the fake PBX's clock against the wall clock
	// mutation is the pipeline's link-time mutation switch for the
	// callbridge under test ("": none).
	mutation string
	// instances names the callbridge processes; each registers its own
	// ARI application.
	instances []string
	// redisURL, when set, is the store (a Cluster, Sentinels); else the
	// rig starts one redis-server.
	redisURL     string
	waitReplicas int
	// settle bounds the wait for the CRM after the last event.
	settle time.Duration
}

// fault is one thing done to the system once playback has reached event at.
type fault struct {
	at   int
	what string
	do   func(r *rig) error
}

// rig is one scenario's world: a fake Asterisk writing CEL, Redis, the
// flaky CRM and the callbridge instances.
type rig struct {
	t       *testing.T
	w       *workload
	ari     *fakeari.Server
	redis   *redistest.Server // nil when the scenario brings its own store
	crm     *crm
	daemons []*daemon
	celFile *os.File

	mu   sync.Mutex
	step string
}

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

func newRig(t *testing.T, sc scenario) *rig {
	w := load(t, sc.rounds)
	r := &rig{t: t, w: w}
	url := sc.redisURL
	if url == "" {
		r.redis = redistest.Start(t)
		url = r.redis.URL()
	}
	r.crm = newCRM(crmSecret)
	t.Cleanup(r.crm.close)
	f, err := os.OpenFile(filepath.Join(t.TempDir(), "Master.csv"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	r.celFile = f
	t.Cleanup(func() { f.Close() })
	srv, err := fakeari.New(fakeari.Options{Recordings: []fakeari.Recording{w.rec}, Speed: sc.speed, CEL: f})
	if err != nil {
		t.Fatal(err)
	}
	r.ari = srv
	t.Cleanup(srv.Close)
	bin := callbridge(t, sc.mutation)
	for _, name := range sc.instances {
		r.daemons = append(r.daemons, newDaemon(t, bin, name, daemonParams{
			App: "callbridge-" + name, ARIURL: srv.URL(), ARIUser: srv.Username(), ARIPass: srv.Password(),
			RedisURL: url, WaitReplicas: sc.waitReplicas, CRMURL: r.crm.srv.URL, CELFile: f.Name(),
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
	})
	return r
}

// play starts every daemon, lets the fake Asterisk play the workload on
// its own clock and applies the faults as playback passes their events,
// then waits up to settle for the CRM to hold every activity needed.
func (r *rig) play(faults []fault, settle time.Duration) {
	sort.SliceStable(faults, func(i, j int) bool { return faults[i].at < faults[j].at })
	begin := time.Now()
	r.setStep("starting %d callbridge instance(s)", len(r.daemons))
	for _, d := range r.daemons {
		if err := d.start(); err != nil {
			r.fatalf("%v", err)
		}
	}
	r.setStep("waiting for %d instance(s) to connect to ARI", len(r.daemons))
	r.waitFor(30*time.Second, func() bool { return r.ari.Clients() == len(r.daemons) }, func() string {
		return fmt.Sprintf("%d of %d connected", r.ari.Clients(), len(r.daemons))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	played := make(chan error, 1)
	r.setStep("playing %d events", r.w.events)
	go func() { played <- r.ari.Play(ctx) }()
	var playErr error
	playing := true
	for _, f := range faults {
		for playing && r.ari.Played() < f.at {
			select {
			case playErr = <-played:
				playing = false
			case <-time.After(time.Millisecond):
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
	r.t.Logf("played %d events in %s", r.w.events, time.Since(begin).Round(time.Millisecond))
	r.setStep("waiting up to %s for the CRM to hold all %d activities", settle, len(r.w.need))
	deadline := time.Now().Add(settle)
	for len(r.crm.has(r.w.need)) > 0 && time.Now().Before(deadline) {
		for _, d := range r.daemons {
			if !d.running() {
				r.fatalf("callbridge %s exited on its own", d.name)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Anything still on its way that should not come has a moment to.
	time.Sleep(2 * time.Second)
	r.t.Logf("done %s after start", time.Since(begin).Round(time.Millisecond))
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

// problems compares what the CRM holds with the workload replayed without
// faults: every record must be an activity the workload makes, field by
// field as its source (ARI, or CEL for a call callbridge did not see
// whole) gives it, created once (one idempotency key per activity id, one
// version under each key); every activity both sources agree the policy
// accepts must be there. It returns what is wrong, nothing when all is
// well.
func (r *rig) problems() []string {
	w := r.w
	c := r.crm
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for _, why := range c.bad {
		add("the CRM rejected a request: %s", why)
	}
	bySource := map[string]int{}
	for key, rec := range c.records {
		a := rec.act
		bySource[a.Source]++
		if key != a.ID {
			add("activity %s (%s) filed under idempotency key %s", a.ID, w.what[a.ID], key)
		}
		if rec.versions > 1 {
			add("activity %s (%s) sent in %d versions under one key", a.ID, w.what[a.ID], rec.versions)
		}
		want, ok := w.all[a.Source][a.ID]
		reason, dropped := w.drop[a.Source][a.ID]
		switch {
		case !ok:
			add("activity %s from %q is not one the workload makes there:%s", a.ID, a.Source, w.explain(a, rec.body))
		case activityJSON(a) != activityJSON(want):
			add("activity %s (%s) differs from the %s replay:\n     got %s\n    want %s", a.ID, w.what[a.ID], a.Source, activityJSON(a), activityJSON(want))
		case dropped && reason != crmsync.DropStartMargin:
			add("activity %s (%s) from %s delivered, though the policy drops it (%s)", a.ID, w.what[a.ID], a.Source, reason)
		}
	}
	for id, keys := range c.keys {
		if len(keys) > 1 {
			add("activity %s (%s) created %d times, under keys %v", id, w.what[id], len(keys), keys)
		}
	}
	var missing []string
	for id := range w.need {
		if len(c.keys[id]) == 0 {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		add("%d of %d activities missing at the CRM:%s", len(missing), len(w.need), describe(missing, w.what, 30))
	}
	r.t.Logf("CRM: %d activities from ARI, %d from CEL; %d needed, %d more either source may give or the policy drop", bySource["ari"], bySource["cel"],
		len(w.need), len(w.fromARI)+len(w.fromCEL)-2*len(w.need))
	return out
}

// check fails the test with every problem.
func (r *rig) check() {
	r.t.Helper()
	r.t.Logf("%s", r.crm.stats())
	r.t.Logf("policy dropped %v; %d events played", r.w.dropped, r.w.events)
	ps := r.problems()
	for i, p := range ps {
		if i == 30 {
			r.t.Errorf("… and %d more problems", len(ps)-i)
			break
		}
		r.t.Error(p)
	}
}

// killRestart SIGKILLs d, as a crash or the OOM killer would, wherever it
// is (mid-burst, mid-call, with events unread in its socket), and starts
// it again after down, while the PBX plays on.
func killRestart(d *daemon, down time.Duration) func(*rig) error {
	return func(r *rig) error {
		d.kill()
		time.Sleep(down)
		return d.start()
	}
}

// crashRedis SIGKILLs redis-server and starts it again after down, on
// its append-only file.
func crashRedis(down time.Duration) func(*rig) error {
	return func(r *rig) error { return r.redis.CrashFor(down) }
}

// schedule draws the faults of a run from the seed: kills of the
// instances at random moments, at least one in the middle of a burst,
// each down between 100 ms and 1.5 s; with redis, one SIGKILL of Redis.
// Every fault is logged, so a failing seed can be rerun
// (-faulttest.seed).
func (r *rig) schedule(kills int, victims []*daemon, redis bool) []fault {
	rng := rand.New(rand.NewSource(*seed))
	r.t.Logf("fault schedule from seed %d (-faulttest.seed)", *seed)
	n := r.w.events
	down := func() time.Duration { return time.Duration(100+rng.Intn(1400)) * time.Millisecond }
	var fs []fault
	for i := range kills {
		at := n/20 + rng.Intn(n*17/20)
		if i == 0 && len(r.w.bursts) > 0 {
			b := r.w.bursts[rng.Intn(len(r.w.bursts))]
			at = b[0] + (b[1]-b[0])/4 + rng.Intn((b[1]-b[0])/2)
		}
		d := victims[rng.Intn(len(victims))]
		dt := down()
		fs = append(fs, fault{at: at, what: fmt.Sprintf("SIGKILL %s, down %s", d.name, dt), do: killRestart(d, dt)})
	}
	if redis {
		at, dt := n/10+rng.Intn(n*7/10), time.Duration(200+rng.Intn(600))*time.Millisecond
		fs = append(fs, fault{at: at, what: fmt.Sprintf("SIGKILL redis-server, down %s", dt), do: crashRedis(dt)})
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].at < fs[j].at })
	for _, f := range fs {
		inBurst := ""
		for _, b := range r.w.bursts {
			if f.at >= b[0] && f.at < b[1] {
				inBurst = " (mid-burst)"
			}
		}
		r.t.Logf("  at event %d of %d: %s%s", f.at, n, f.what, inBurst)
	}
	return fs
}

// names is a list of n instance names.
func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}
