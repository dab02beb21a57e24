package pipeline

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/phone"
	"github.com/callbridge/callbridge/internal/pipeline/journal"
)

var cfg = bridge.Config{Source: "ari", Trunks: []string{"pstn"}}

var everyCut = flag.Bool("every-cut", false, "crash after every event of the large recordings too (slow)")

// cuts lists the events after which the crash test kills the pipeline:
// every one for recordings of up to denseCuts events; for the large load
// recordings, every one of the first and last denseCuts/2 and about
// denseCuts/2 spread evenly through the middle, unless -every-cut asks for
// all of them. Under the race detector the sample is smaller; .ci/test
// also runs the test without it.
func cuts(n int) []int {
	denseCuts := 300
	if raceBuild {
		denseCuts = 80
	}
	stride := max(1, (n-denseCuts)/(denseCuts/2))
	var out []int
	for cut := 0; cut <= n; cut++ {
		if *everyCut || n <= denseCuts || cut < denseCuts/2 || cut > n-denseCuts/2 || cut%stride == 0 {
			out = append(out, cut)
		}
	}
	return out
}

func events(t testing.TB, name string) []bridge.Event {
	t.Helper()
	f, err := os.Open(filepath.Join("../../testdata/recordings", name, "ari.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []bridge.Event
	if _, err := ari.ReadRecording(f, func(ev bridge.Event) { evs = append(evs, ev) }); err != nil {
		t.Fatal(err)
	}
	return evs
}

func marshal(t *testing.T, a bridge.Activity) string {
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A daemon killed after any event and restarted from its journal reports
// exactly what an uninterrupted one does: every activity, byte for byte,
// repeats allowed (delivery is idempotent on the id), nothing missing or
// different. Checked for every cut point of every recording (a dense sample
// of the two load recordings unless -every-cut), with and without
// compaction, one event a batch and several (a crash inside a batch loses
// the whole batch: none of it was journaled or acted on, and the source
// starts again from its first event).
func TestRestoreAfterCrashAtEveryEvent(t *testing.T) {
	names, _ := filepath.Glob("../../testdata/recordings/*/ari.jsonl")
	for _, path := range names {
		name := filepath.Base(filepath.Dir(path))
		evs := events(t, name)
		want := map[string]string{}
		ref := NewEngine(cfg, phone.Normalizer{}, func(a bridge.Activity) { want[a.ID] = marshal(t, a) }, nil)
		for _, ev := range evs {
			ref.Handle(ev)
		}
		if len(want) == 0 {
			t.Fatalf("%s: no activities", name)
		}
		for _, run := range []struct{ compact, batch int }{{compactEvery, 1}, {5, 1}, {5, 4}} {
			compact := run.compact
			for _, cut := range cuts(len(evs)) {
				got := map[string]string{}
				collect := func(a bridge.Activity) {
					s := marshal(t, a)
					if prev, ok := got[a.ID]; ok && prev != s {
						t.Fatalf("%s cut %d: activity %s reported twice differently:\n%s\n%s", name, cut, a.ID, prev, s)
					}
					got[a.ID] = s
				}
				path := filepath.Join(t.TempDir(), "j")
				j1, err := journal.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				p1 := NewEngine(cfg, phone.Normalizer{}, collect, nil)
				if _, err := p1.Restore(j1); err != nil {
					t.Fatal(err)
				}
				p1.compactAt = compact
				from := 0 // the first event of the batch open at the crash
				for i, ev := range evs[:cut] {
					if i%run.batch == 0 {
						p1.Begin()
						from = i
					}
					p1.Handle(ev)
					if i%run.batch == run.batch-1 {
						p1.End()
						from = i + 1
					}
				}
				j1.Close() // the process dies here

				j2, err := journal.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				p2 := NewEngine(cfg, phone.Normalizer{}, collect, nil)
				if _, err := p2.Restore(j2); err != nil {
					t.Fatal(err)
				}
				p2.compactAt = compact
				for _, ev := range evs[from:] {
					p2.Handle(ev)
				}
				j2.Close()
				if len(got) != len(want) {
					t.Fatalf("%s cut %d (%+v): %d activities, want %d", name, cut, run, len(got), len(want))
				}
				for id, w := range want {
					if got[id] != w {
						t.Fatalf("%s cut %d (%+v): activity differs:\n got %s\nwant %s", name, cut, run, got[id], w)
					}
				}
			}
		}
	}
}

// Events lost while the daemon was down (written to a socket nobody read)
// do not lose the call: the snapshot after the restart closes it at the
// last journaled moment, and it is reported once.
func TestRestoreThenSnapshotClosesCallsEndedInTheGap(t *testing.T) {
	evs := events(t, "inbound_answered")
	// Crash after the bridge is up; the rest of the call (hang-up) happens
	// while nobody listens.
	cut := 0
	for i, ev := range evs {
		if ev.Kind == bridge.BridgeEnter {
			cut = i + 2
			break
		}
	}
	path := filepath.Join(t.TempDir(), "j")
	var got []bridge.Activity
	collect := func(a bridge.Activity) { got = append(got, a) }
	j1, _ := journal.Open(path)
	p1 := NewEngine(cfg, phone.Normalizer{}, collect, nil)
	p1.Restore(j1)
	for _, ev := range evs[:cut] {
		p1.Handle(ev)
	}
	j1.Close()

	j2, _ := journal.Open(path)
	p2 := NewEngine(cfg, phone.Normalizer{}, collect, nil)
	if n, err := p2.Restore(j2); err != nil || n != cut {
		t.Fatalf("restored %d events (%v), want %d", n, err, cut)
	}
	if st, _ := p2.Stats(); st.Calls != 1 {
		t.Fatalf("restored engine holds %d calls, want 1", st.Calls)
	}
	// The source reconnects: the PBX lists no channels. Its own idea of
	// the time is not known (zero); the pipeline uses the journal's.
	p2.Handle(bridge.Event{Kind: bridge.Snapshot})
	if len(got) != 1 || got[0].State != bridge.Connected || got[0].User != "101" {
		t.Fatalf("%+v", got)
	}
	if want := evs[cut-1].Time; !got[0].EndedAt.Equal(want) {
		t.Errorf("ended %v, want the last journaled event's time %v", got[0].EndedAt, want)
	}
	if j2.Len() != 0 {
		t.Errorf("journal keeps %d events with no call open", j2.Len())
	}
}

// A batch's activities are handed on together, only once every event of
// the batch is in the journal on disk: a crash after the hand-off replays
// every event that finished them.
func TestBatchIsJournaledBeforeItsActivities(t *testing.T) {
	evs := events(t, "inbound_answered")
	path := filepath.Join(t.TempDir(), "j")
	handled, batches, activities := 0, 0, 0
	var p *Engine
	p = NewBatchEngine(cfg, phone.Normalizer{}, func(as []bridge.Activity) {
		batches++
		activities += len(as)
		j, err := journal.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		if n, err := j.Replay(func(bridge.Event) {}); err != nil || n != handled {
			t.Fatalf("%d activities handed on with %d events in the journal (%v), want %d", len(as), n, err, handled)
		}
	}, nil)
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := p.Restore(j); err != nil {
		t.Fatal(err)
	}
	p.Begin()
	for _, ev := range evs {
		p.Handle(ev)
		handled++
	}
	if activities != 0 {
		t.Fatalf("%d activities handed on before the batch ended", activities)
	}
	p.End()
	if batches != 1 || activities == 0 {
		t.Fatalf("%d batches of %d activities, want one", batches, activities)
	}
}
