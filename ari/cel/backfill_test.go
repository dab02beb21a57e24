package cel_test

import (
	"context"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari/cel"
	"github.com/callbridge/callbridge/bridge"
)

var engineConfig = bridge.Config{Trunks: []string{"pstn", "pstn2"}}

// callsOf groups activities by call, each call spanning its activities.
func callsOf(acts []bridge.Activity) map[string]cel.Call {
	m := map[string]cel.Call{}
	for _, a := range acts {
		c, ok := m[a.CallID]
		if !ok {
			c = cel.Call{ID: a.CallID, Start: a.StartedAt, End: a.EndedAt}
		}
		c.Activities = append(c.Activities, a)
		if a.StartedAt.Before(c.Start) {
			c.Start = a.StartedAt
		}
		if a.EndedAt.After(c.End) {
			c.End = a.EndedAt
		}
		m[a.CallID] = c
	}
	return m
}

func sortActs(as []bridge.Activity) []bridge.Activity {
	as = slices.Clone(as)
	sort.Slice(as, func(i, j int) bool { return as[i].ID < as[j].ID })
	return as
}

// testBackfill runs a gap through the middle of a recording of many
// overlapping calls (concurrent_mixed_20): the daemon saw the calls that
// ended before LastSeen and those that began after FirstNew. The gap
// brings back every call that ended in it or overlaps it, each field by
// field as the whole recording gives it (the calls that began before the
// gap from their first row), and no other; the margin widens it. Times are
// compared exactly, except from a source that keeps whole seconds: there
// rows of one second are spread 1 µs apart in the order read, and a gap
// reads fewer rows than the whole day (tol: 1 ms, below what an activity
// shows).
func testBackfill(t *testing.T, src cel.Source, rows []cel.Row, tol time.Duration) {
	full := callsOf(fromSource(t, src, rows))
	var ends []time.Time
	for _, c := range full {
		ends = append(ends, c.End)
	}
	slices.SortFunc(ends, func(a, b time.Time) int { return a.Compare(b) })
	if len(ends) != 20 {
		t.Fatalf("%d calls", len(ends))
	}
	mid := func(a, b time.Time) time.Time { return a.Add(b.Sub(a) / 2) }
	w := cel.Window{LastSeen: mid(ends[5], ends[6]), FirstNew: mid(ends[12], ends[13])}
	for _, margin := range []time.Duration{0, w.LastSeen.Sub(ends[5]) + time.Millisecond} {
		g, err := cel.Backfill(context.Background(), src, w, margin, engineConfig)
		if err != nil {
			t.Fatal(err)
		}
		if !g.From.Equal(w.LastSeen.Add(-margin)) || !g.To.Equal(w.FirstNew.Add(margin)) {
			t.Errorf("span %v..%v", g.From, g.To)
		}
		var want []string
		for id, c := range full {
			if !c.End.Before(g.From) && !c.Start.After(g.To) {
				want = append(want, id)
			}
		}
		var got []string
		for _, c := range g.Calls {
			got = append(got, c.ID)
			f := full[c.ID]
			if !sameWithin(sortActs(c.Activities), sortActs(f.Activities), tol) || c.Start.Sub(f.Start).Abs() > tol || c.End.Sub(f.End).Abs() > tol {
				t.Errorf("margin %v: call %s differs from the whole recording's:\n got%s\nwant%s", margin, c.ID, brief(c.Activities), brief(f.Activities))
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || len(g.Open) != 0 {
			t.Errorf("margin %v: calls %v (open %v), want %v", margin, got, g.Open, want)
		}
		// The seven calls that ended in the gap are in; the one that
		// ended just before it only with the margin.
		if len(got) < 7 {
			t.Errorf("margin %v: only %d calls", margin, len(got))
		}
		if before := slices.Contains(got, callEndingAt(full, ends[5])); before != (margin > 0) {
			t.Errorf("margin %v: the call that ended before the gap included: %v", margin, before)
		}
		if g.Stats.Malformed != 0 || g.Stats.Mapped == 0 || g.Stats.Mapped+g.Stats.Skipped+g.Stats.Malformed != g.Stats.Rows {
			t.Errorf("stats %+v", g.Stats)
		}
	}
}

func callEndingAt(calls map[string]cel.Call, end time.Time) string {
	for id, c := range calls {
		if c.End.Equal(end) {
			return id
		}
	}
	return ""
}

// TestBackfillFile runs the backfill on the CSV cel_custom writes (type
// csv), the whole recording as the file.
func TestBackfillFile(t *testing.T) {
	path := filepath.Join(recordings, "concurrent_mixed_20", "cel.csv")
	src := open(t, cel.Config{Type: cel.TypeCSV, File: path, TimeZone: "UTC"})
	testBackfill(t, src, celRows(t, "concurrent_mixed_20"), 0)
}

// TestBackfillOpenCalls: calls still in progress at the last row read are
// listed as open, not delivered with made-up ends.
func TestBackfillOpenCalls(t *testing.T) {
	rows := celRows(t, "concurrent_mixed_20")
	full := callsOf(activities("cel", mapRows(rows)))
	cut := rows[len(rows)/2].Time
	var b strings.Builder
	raw := readFile(t, filepath.Join(recordings, "concurrent_mixed_20", "cel.csv"))
	for i, line := range strings.Split(strings.TrimSpace(raw), "\n") {
		if rows[i].Time.Before(cut) {
			b.WriteString(line + "\n")
		}
	}
	path := writeFile(t, t.TempDir(), "cel.csv", b.String())
	src := open(t, cel.Config{Type: cel.TypeCSV, File: path})
	g, err := cel.Backfill(context.Background(), src, cel.Window{LastSeen: cut.Add(-3 * time.Second), FirstNew: cut}, 0, engineConfig)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Open) == 0 || len(g.Calls) == 0 {
		t.Fatalf("calls %d, open %v", len(g.Calls), g.Open)
	}
	for _, c := range g.Calls {
		if f := full[c.ID]; !f.End.Before(cut) || !sameActivities(sortActs(c.Activities), sortActs(f.Activities)) {
			t.Errorf("call %s delivered but not over at the cut, or changed", c.ID)
		}
	}
	// A call is over when its last channel is: the activities may end
	// earlier (a user's talk ends when the other party hangs up).
	lastRow := map[string]time.Time{}
	for _, r := range rows {
		if r.Time.After(lastRow[r.LinkedID]) {
			lastRow[r.LinkedID] = r.Time
		}
	}
	for _, id := range g.Open {
		end, ok := lastRow[id]
		if !ok {
			end = full[id].End
		}
		if end.Before(cut) {
			t.Errorf("call %s over before the cut listed open", id)
		}
	}
	if _, err := cel.Backfill(context.Background(), src, cel.Window{LastSeen: cut, FirstNew: cut.Add(-time.Second)}, 0, engineConfig); err == nil {
		t.Error("a window that ends before it begins was accepted")
	}
}

// TestLookup rebuilds chosen calls of a busy recording from their ids
// alone, each as the whole recording gives it, also when the id is that
// of a later channel of the call (a live source that met the call mid-way
// names it so); a call cut off mid-way is open, an unknown id not found.
func TestLookup(t *testing.T) {
	path := filepath.Join(recordings, "concurrent_mixed_20", "cel.csv")
	rows := celRows(t, "concurrent_mixed_20")
	full := callsOf(activities("cel", mapRows(rows)))
	src := open(t, cel.Config{Type: cel.TypeCSV, File: path, TimeZone: "UTC"})
	var ids []string
	for id := range full {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ids = ids[:3]
	// A later channel of the first chosen call.
	var later string
	for _, r := range rows {
		if r.LinkedID == ids[0] && r.UniqueID != ids[0] {
			later = r.UniqueID
			break
		}
	}
	if later == "" {
		t.Fatalf("call %s has one channel", ids[0])
	}
	g, err := cel.Lookup(context.Background(), src, append([]string{later}, ids[1:]...), engineConfig)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range append([]string{later}, ids[1:]...) {
		c, open, ok := g.CallOf(id)
		if !ok || open {
			t.Fatalf("%s: found %v, open %v", id, ok, open)
		}
		if c.ID != ids[i] || !sameActivities(sortActs(c.Activities), sortActs(full[ids[i]].Activities)) {
			t.Errorf("%s: call %s differs from the whole recording's:\n got%s\nwant%s", id, c.ID, brief(c.Activities), brief(full[ids[i]].Activities))
		}
	}
	if _, _, ok := g.CallOf("1795000000.1"); ok {
		t.Error("an id no row names was found")
	}

	// Cut the file in the middle of the first call.
	c0 := full[ids[0]]
	cut := c0.Start.Add(c0.End.Sub(c0.Start) / 2)
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimSpace(readFile(t, path)), "\n") {
		if rows[i].Time.Before(cut) {
			b.WriteString(line + "\n")
		}
	}
	src = open(t, cel.Config{Type: cel.TypeCSV, File: writeFile(t, t.TempDir(), "cel.csv", b.String())})
	g, err = cel.Lookup(context.Background(), src, ids[:1], engineConfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, open, ok := g.CallOf(ids[0]); !ok || !open {
		t.Errorf("a call cut mid-way: found %v, open %v", ok, open)
	}
}
