package faulttest

import (
	"bytes"
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
	"github.com/callbridge/callbridge/ari/cel"
	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/pipeline"
)

// recordings is where the shared recordings are copied.
const recordings = "../../testdata/recordings"

// roundOf are the recordings of one round of the workload: the demo's ten
// calls and twenty overlapping ones; every fourth round also fifty at once
// (load_50), a burst faster than callbridge reads.
var roundOf = []string{"inbound_answered", "inbound_missed_cancel", "inbound_busy", "outbound_answered",
	"outbound_unanswered", "internal_answered", "ring_group", "queue_local_members", "attended_transfer",
	"short_call", "concurrent_mixed_20"}

const burst = "load_50"

// workload is what the fake Asterisk plays, and what the CRM must end up
// with.
type workload struct {
	// rec is every round in one recording, its lines and CEL rows moved
	// and tagged already, so that the PBX's clock runs on from one call to
	// the next and the rewriting is done once for every scenario.
	rec    fakeari.Recording
	events int
	// bursts are the event ranges of load_50, [from, to).
	bursts [][2]int
	// fromARI and fromCEL are the activities the default policy accepts,
	// by id, from the events and from the CEL rows (the version the CRM
	// gets depends on whether callbridge saw the call whole); need are
	// the ids both accept.
	fromARI, fromCEL map[string]bridge.Activity
	need             map[string]bool
	// all are every activity each source makes, accepted or not, and
	// why the policy dropped those it dropped: the start-margin rule
	// decides by what came before, so the mix of versions a faulty run
	// delivers may accept one the replay did not.
	all  map[string]map[string]bridge.Activity
	drop map[string]map[string]string
	// what describes each id for failure messages.
	what map[string]string
	// dropped counts what the policy turned away, by reason.
	dropped map[string]int
}

var (
	loadMu sync.Mutex
	loaded = map[int]*workload{}
)

// load builds the workload of n rounds once per test binary.
func load(t *testing.T, n int) *workload {
	t.Helper()
	loadMu.Lock()
	defer loadMu.Unlock()
	if w := loaded[n]; w != nil {
		return w
	}
	w, err := build(n)
	if err != nil {
		t.Fatal(err)
	}
	loaded[n] = w
	return w
}

func recording(name string) (fakeari.Recording, error) {
	rec, err := fakeari.LoadRecording(filepath.Join(recordings, name, "ari.jsonl"))
	if err != nil {
		return rec, err
	}
	rec.Name = name
	rec.CEL, err = fakeari.LoadCEL(filepath.Join(recordings, name, "cel.csv"))
	return rec, err
}

func build(n int) (*workload, error) {
	base := map[string]fakeari.Recording{}
	for _, name := range append(roundOf, burst) {
		rec, err := recording(name)
		if err != nil {
			return nil, err
		}
		base[name] = rec
	}
	var recs []fakeari.Recording
	for r := range n {
		names := roundOf
		if r%4 == 1 {
			names = append(append([]string(nil), roundOf[:6]...), append([]string{burst}, roundOf[6:]...)...)
		}
		for _, name := range names {
			rec := base[name]
			rec.Name = fmt.Sprintf("%s#%d", name, r)
			rec.Tag = fmt.Sprintf("-r%d", r)
			recs = append(recs, rec)
		}
	}
	recs = fakeari.Chain(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), 1500*time.Millisecond, recs...)
	w := &workload{rec: fakeari.Recording{Name: "workload"}, what: map[string]string{}, dropped: map[string]int{}}
	for _, rec := range recs {
		lines := rec.Messages()
		if strings.HasPrefix(rec.Name, burst+"#") {
			w.bursts = append(w.bursts, [2]int{w.events, w.events + len(lines)})
		}
		w.rec.Lines = append(w.rec.Lines, lines...)
		w.rec.CEL = append(w.rec.CEL, rec.CELRows()...)
		w.events += len(lines)
	}
	return w, w.expect(recs)
}

// expect replays the workload without faults, once as the events and once
// as the CEL rows, through the engine and the policy the daemons run with:
// the same config file, ids made by the engine itself.
func (w *workload) expect(recs []fakeari.Recording) error {
	dir, err := os.MkdirTemp("", "callbridge-faulttest-expect-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "callbridge.yaml")
	text := daemonConfig(daemonParams{StateDir: dir, ARIURL: "http://127.0.0.1:1/ari", RedisURL: "redis://127.0.0.1:1/0",
		CRMURL: "http://127.0.0.1:1/", CELFile: filepath.Join(dir, "cel.csv")})
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
	var failed error
	w.all = map[string]map[string]bridge.Activity{"ari": {}, "cel": {}}
	w.drop = map[string]map[string]string{"ari": {}, "cel": {}}
	accept := func(source string, into map[string]bridge.Activity) func(bridge.Activity) {
		pol, err := crmsync.NewPolicy(cfg.Policy, newStartBook(), nil)
		if err != nil {
			failed = err
		}
		pol.SetDirectory(cfg.EngineConfig().Users, nil)
		return func(a bridge.Activity) {
			if want := bridge.ActivityID("", a.CallID, a.User); a.ID != want {
				failed = fmt.Errorf("activity id %s is not ActivityID(\"\", %q, %q) = %s", a.ID, a.CallID, a.User, want)
			}
			if _, dup := w.all[source][a.ID]; dup {
				failed = fmt.Errorf("%s: activity id %s made twice", source, a.ID)
			}
			w.all[source][a.ID] = a
			w.what[a.ID] = fmt.Sprintf("call %s user %s %s %s", a.CallID, a.User, a.State, a.Reason)
			ok, reason, err := pol.Decide(context.Background(), a)
			switch {
			case err != nil:
				failed = err
			case !ok:
				w.drop[source][a.ID] = reason
				if source == "ari" {
					w.dropped[reason]++
				}
			default:
				if _, dup := into[a.ID]; dup {
					failed = fmt.Errorf("%s: activity id %s made twice", source, a.ID)
				}
				into[a.ID] = a
			}
		}
	}
	w.fromARI, w.fromCEL = map[string]bridge.Activity{}, map[string]bridge.Activity{}
	ec := cfg.EngineConfig()
	ec.Source = "ari"
	p := pipeline.NewEngine(ec, cfg.Normalizer(), accept("ari", w.fromARI), nil)
	for _, line := range w.rec.Lines {
		ev, ok, err := ari.Decode(line)
		if err != nil {
			return err
		}
		if ok {
			p.Handle(ev)
		}
	}
	p.Flush()
	if st, _ := p.Stats(); st.Calls != 0 {
		return fmt.Errorf("%d calls still open after every recording", st.Calls)
	}
	ec.Source = "cel"
	pc := pipeline.NewEngine(ec, cfg.Normalizer(), accept("cel", w.fromCEL), nil)
	layout, err := cel.NewLayout(cel.LabFields, time.UTC)
	if err != nil {
		return err
	}
	st, err := layout.Replay(bytes.NewReader(bytes.Join(w.rec.CEL, nil)), pc.Handle)
	if err != nil || st.Malformed != 0 {
		return fmt.Errorf("CEL rows: %v %v", err, st.Problems)
	}
	pc.Flush()
	w.need = map[string]bool{}
	for id := range w.fromARI {
		if _, ok := w.fromCEL[id]; ok {
			w.need[id] = true
		}
	}
	return failed
}

// json is an activity as the CRM gets it.
func activityJSON(a bridge.Activity) string {
	b, err := json.Marshal(a)
	if err != nil {
		return err.Error()
	}
	return string(b)
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
// beside what the workload makes: the activity the other source makes
// under the same id, or else the nearest one of either source, of the same
// call or the same user and start, with what the policy does with it.
// body is what the CRM stored.
func (w *workload) explain(got bridge.Activity, body []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n    arrived as %s", body)
	verdict := func(source, id string) string {
		if reason, ok := w.drop[source][id]; ok {
			return "dropped by the policy (" + reason + ")"
		}
		return "accepted by the policy"
	}
	sources := []string{"ari", "cel"}
	for _, source := range sources {
		if a, ok := w.all[source][got.ID]; ok && source != got.Source {
			fmt.Fprintf(&b, "\n    the %s replay makes it as %s, %s", source, activityJSON(a), verdict(source, a.ID))
			return b.String()
		}
	}
	score := func(a bridge.Activity) (int, time.Duration) {
		d := a.StartedAt.Sub(got.StartedAt)
		if d < 0 {
			d = -d
		}
		switch {
		case a.CallID == got.CallID:
			return 0, d
		case a.User == got.User:
			return 1, d
		}
		return 2, d
	}
	var near bridge.Activity
	nearSource := ""
	for _, source := range sources {
		for _, a := range w.all[source] {
			if nearSource != "" {
				s, d := score(a)
				ns, nd := score(near)
				if s > ns || s == ns && (d > nd || d == nd && a.ID >= near.ID) {
					continue
				}
			}
			near, nearSource = a, source
		}
	}
	if nearSource == "" {
		return b.String()
	}
	fmt.Fprintf(&b, "\n    the nearest the %s replay makes is %s, %s", nearSource, activityJSON(near), verdict(nearSource, near.ID))
	return b.String()
}

// An unexpected arrival is explained against what the workload makes: an
// id only the other source makes is shown as that source makes it, with
// what the policy does with it; another id beside the nearest activity of
// the same user (here the same call seen from its start, under the
// caller's channel id).
func TestExplain(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 8, 27, 16, 0, time.UTC)
	act := func(callID, user string, start time.Duration) bridge.Activity {
		return bridge.Activity{ID: bridge.ActivityID("", callID, user), CallID: callID, User: user,
			StartedAt: t0.Add(start), EndedAt: t0.Add(start + 8*time.Second), Source: "ari"}
	}
	kept, dropped, other := act("1.2-r20", "101", 660*time.Millisecond), act("1.2-r20", "102", 0), act("1.9-r20", "101", time.Minute)
	w := &workload{
		all:  map[string]map[string]bridge.Activity{"ari": {kept.ID: kept, dropped.ID: dropped, other.ID: other}, "cel": {}},
		drop: map[string]map[string]string{"ari": {dropped.ID: "answered_elsewhere"}, "cel": {}},
	}
	fromCEL := dropped
	fromCEL.Source = "cel"
	if got := w.explain(fromCEL, []byte(activityJSON(fromCEL))); !strings.Contains(got, "the ari replay makes it as "+activityJSON(dropped)+", dropped by the policy (answered_elsewhere)") {
		t.Errorf("an id the other source makes: %s", got)
	}
	foreign := act("1.3-r20", "101", 545*time.Millisecond)
	got := w.explain(foreign, []byte(activityJSON(foreign)))
	if !strings.Contains(got, `"call_id":"1.3-r20"`) || !strings.Contains(got, "nearest the ari replay makes is "+activityJSON(kept)+", accepted by the policy") {
		t.Errorf("a foreign id: %s", got)
	}
}
