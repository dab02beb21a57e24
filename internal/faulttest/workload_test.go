package faulttest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/app/demo"
	"github.com/callbridge/callbridge/internal/pipeline"
)

// workload is what the fake Asterisk plays and what the CRM must end up
// with.
type workload struct {
	// recs are ready to play: Chain and Tag are already applied to their
	// lines (fakeari.Recording.Messages), so that the work of rewriting
	// them is done once for every scenario and for the expectation.
	recs   []fakeari.Recording
	events int
	// expected maps every activity id the default policy accepts to a
	// description for failure messages.
	expected map[string]string
	// dropped counts what the policy turned away, by reason.
	dropped map[string]int
	// made is every activity the engine makes of the recordings, the
	// dropped ones included, by id: what an unexpected arrival is
	// compared with.
	made map[string]made
}

// made is one activity of the expectation and what the policy did with it.
type made struct {
	a       bridge.Activity
	dropped string // the policy's reason; "": accepted
}

// rounds of the demo's ten recordings; each round gives 12 activities the
// default policy accepts, so the full run checks 5,040.
func rounds() int {
	if testing.Short() || raceDetector {
		return 40
	}
	return 420
}

var (
	loadOnce sync.Once
	loaded   *workload
	loadErr  error
)

// load builds the workload once per test binary.
func load(t *testing.T) *workload {
	t.Helper()
	loadOnce.Do(func() { loaded, loadErr = build(rounds()) })
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loaded
}

func build(n int) (*workload, error) {
	base, err := demo.Recordings()
	if err != nil {
		return nil, err
	}
	var recs []fakeari.Recording
	for r := range n {
		for _, rec := range base {
			rec.Name = fmt.Sprintf("%s#%d", rec.Name, r)
			rec.Tag = fmt.Sprintf("-r%d", r)
			recs = append(recs, rec)
		}
	}
	recs = fakeari.Chain(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), 1500*time.Millisecond, recs...)
	w := &workload{expected: map[string]string{}, dropped: map[string]int{}, made: map[string]made{}}
	for i, rec := range recs {
		recs[i] = fakeari.Recording{Name: rec.Name, Lines: rec.Messages()}
		w.events += len(recs[i].Lines)
	}
	w.recs = recs
	return w, w.expect()
}

// expect replays the recordings as the daemon's source and pipeline would
// see them, without the faults, and keeps what the policy accepts. The
// directory and policy come from the same config the daemons run with, and
// ids are made by the engine itself (bridge.ActivityID, pbx_id empty).
func (w *workload) expect() error {
	dir, err := os.MkdirTemp("", "callbridge-faulttest-expect-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "callbridge.yaml")
	text := daemonConfig(daemonParams{StateDir: dir, ARIURL: "http://127.0.0.1:1/ari", RedisURL: "redis://127.0.0.1:1/0", CRMURL: "http://127.0.0.1:1/"})
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if cfg.PBXID != "" {
		return fmt.Errorf("the test config sets pbx_id; the expectation assumes it empty")
	}
	pol, err := crmsync.NewPolicy(cfg.Policy, newStartBook(), nil)
	if err != nil {
		return err
	}
	ec := cfg.EngineConfig()
	pol.SetDirectory(ec.Users, nil)
	ec.Source = "ari"
	var name string
	var failed error
	p := pipeline.NewEngine(ec, cfg.Normalizer(), func(a bridge.Activity) {
		if want := bridge.ActivityID("", a.CallID, a.User); a.ID != want {
			failed = fmt.Errorf("%s: activity id %s is not ActivityID(\"\", %q, %q) = %s", name, a.ID, a.CallID, a.User, want)
		}
		ok, reason, err := pol.Decide(context.Background(), a)
		w.made[a.ID] = made{a: a, dropped: reason}
		switch {
		case err != nil:
			failed = err
		case !ok:
			w.dropped[reason]++
		default:
			if prev, dup := w.expected[a.ID]; dup {
				failed = fmt.Errorf("activity id %s made twice: %s and %s", a.ID, prev, name)
			}
			w.expected[a.ID] = fmt.Sprintf("%s user %s %s %s", name, a.User, a.State, a.Reason)
		}
	}, nil)
	for _, rec := range w.recs {
		name = rec.Name
		for _, line := range rec.Lines {
			ev, ok, err := ari.Decode(line)
			if err != nil {
				return fmt.Errorf("%s: %w", rec.Name, err)
			}
			if ok {
				p.Handle(ev)
			}
		}
	}
	p.Flush()
	if st, _ := p.Stats(); st.Calls != 0 {
		return fmt.Errorf("%d calls still open after every recording", st.Calls)
	}
	return failed
}

// startBook is the part of crmsync.Store the policy uses, in memory: the
// start-margin reservations. Any other method panics, which would be a
// change in the policy this expectation must hear about.
type startBook struct {
	crmsync.Store
	mu  sync.Mutex
	ids map[string][]crmsync.StartKey // by user and remote
}

func newStartBook() *startBook { return &startBook{ids: map[string][]crmsync.StartKey{}} }

func (b *startBook) ReserveStart(_ context.Context, k crmsync.StartKey) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := k.User + "\x00" + k.Remote
	for _, o := range b.ids[key] {
		if o.ID == k.ID {
			return "", nil
		}
		d := o.Start.Sub(k.Start)
		if d < 0 {
			d = -d
		}
		if d <= k.Margin {
			return o.ID, nil
		}
	}
	b.ids[key] = append(b.ids[key], k)
	return "", nil
}

// describe lists up to max ids with what they are, sorted, for a failure
// message.
func describe(ids []string, what map[string]string, max int) string {
	sort.Slice(ids, func(i, j int) bool { return what[ids[i]] < what[ids[j]] })
	var b strings.Builder
	for i, id := range ids {
		if i == max {
			fmt.Fprintf(&b, "\n  … and %d more", len(ids)-max)
			break
		}
		fmt.Fprintf(&b, "\n  %s  %s", id, what[id])
	}
	return b.String()
}

// explain says what an activity that arrived at the CRM unexpected is
// beside what the recordings make: the activity the engine made under the
// same id (the policy dropped it), or else the nearest one, of the same
// call or the same user and start. body is what the CRM stored.
func (w *workload) explain(id string, body []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n  %s arrived as %s", id, body)
	var got bridge.Activity
	if err := json.Unmarshal(body, &got); err != nil {
		fmt.Fprintf(&b, "\n    (not an activity: %v)", err)
		return b.String()
	}
	if m, ok := w.made[id]; ok {
		fmt.Fprintf(&b, "\n    the recordings make it as %s, and the policy drops it (%s)", activityJSON(m.a), m.dropped)
		return b.String()
	}
	var near *made
	score := func(m made) (int, time.Duration) {
		d := m.a.StartedAt.Sub(got.StartedAt)
		if d < 0 {
			d = -d
		}
		switch {
		case m.a.CallID == got.CallID:
			return 0, d
		case m.a.User == got.User:
			return 1, d
		}
		return 2, d
	}
	for _, m := range w.made {
		if near == nil {
			near = &m
			continue
		}
		s, d := score(m)
		ns, nd := score(*near)
		if s < ns || s == ns && d < nd {
			near = &m
		}
	}
	if near == nil {
		return b.String()
	}
	verdict := "accepted by the policy"
	if near.dropped != "" {
		verdict = "dropped by the policy (" + near.dropped + ")"
	}
	fmt.Fprintf(&b, "\n    the nearest the recordings make is %s, %s", activityJSON(near.a), verdict)
	return b.String()
}

func activityJSON(a bridge.Activity) string {
	b, err := json.Marshal(a)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// An unexpected arrival is explained against what the recordings make: an
// id the policy drops names the reason, another id the nearest activity of
// the same user (here the same call seen from its start, under the
// caller's channel id).
func TestExplain(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 8, 27, 16, 0, time.UTC)
	act := func(callID, user string, start time.Duration) bridge.Activity {
		return bridge.Activity{ID: bridge.ActivityID("", callID, user), CallID: callID, User: user,
			StartedAt: t0.Add(start), EndedAt: t0.Add(start + 8*time.Second), Source: "ari"}
	}
	kept, dropped, other := act("1.2-r20", "101", 660*time.Millisecond), act("1.2-r20", "102", 0), act("1.9-r20", "101", time.Minute)
	w := &workload{made: map[string]made{kept.ID: {a: kept}, dropped.ID: {a: dropped, dropped: "answered_elsewhere"}, other.ID: {a: other}}}
	body := func(a bridge.Activity) []byte {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if got := w.explain(dropped.ID, body(dropped)); !strings.Contains(got, "policy drops it (answered_elsewhere)") {
		t.Errorf("a dropped id: %s", got)
	}
	foreign := act("1.3-r20", "101", 545*time.Millisecond)
	got := w.explain(foreign.ID, body(foreign))
	if !strings.Contains(got, `"call_id":"1.3-r20"`) || !strings.Contains(got, "nearest the recordings make is "+activityJSON(kept)) {
		t.Errorf("a foreign id: %s", got)
	}
	if got := w.explain("x", []byte("{")); !strings.Contains(got, "not an activity") {
		t.Errorf("a bad body: %s", got)
	}
}
