package cel

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// Window is a gap in what callbridge saw of the PBX: from the last event
// it processed before a restart or disconnect to the first event of the
// new session.
type Window struct {
	LastSeen time.Time
	FirstNew time.Time
}

// Gap is what CEL says happened around a Window.
type Gap struct {
	// From and To are the span read: the window widened by the margin.
	From, To time.Time
	// Stats counts the rows read (reader and mapper together).
	Stats Stats
	// Calls are the calls over by the last row read that overlap
	// [From, To], in the order they ended, each with every activity the
	// engine gives it. Their ids are the ids ARI and AMI give the same
	// calls, so delivering one that was already delivered live changes
	// nothing.
	Calls []Call
	// Open lists the calls in the span still in progress at the last row
	// read: their activities are not final, the live source finishes
	// them.
	Open []string

	// linkedOf lists each channel's linked ids, for CallOf.
	linkedOf map[string][]string
}

// Call is one call rebuilt from CEL.
type Call struct {
	ID         string
	Start, End time.Time // earliest start and latest end of its activities
	Activities []bridge.Activity
}

// Activities are the activities of every call in the gap.
func (g *Gap) Activities() []bridge.Activity {
	var out []bridge.Activity
	for _, c := range g.Calls {
		out = append(out, c.Activities...)
	}
	return out
}

// maxRounds bounds the search for a gap call's other rows: each round
// adds the rows of the calls and channels the last one named (a pickup
// moves a channel from one linked id to another).
const maxRounds = 8

// Backfill reads from src the rows of the window widened by margin, then
// the whole history of every call and channel those rows name (a call
// that began long before the gap is rebuilt from its start), and runs
// them through an engine configured by ec (its Source is set to "cel").
func Backfill(ctx context.Context, src Source, w Window, margin time.Duration, ec bridge.Config) (*Gap, error) {
	if w.FirstNew.Before(w.LastSeen) {
		return nil, errors.New("cel: backfill: the new session begins before the last event seen")
	}
	g := &Gap{From: w.LastSeen.Add(-margin), To: w.FirstNew.Add(margin)}
	before := src.Stats()
	rows, err := src.Window(ctx, g.From, g.To)
	if err != nil {
		return nil, err
	}
	if len(rows) > 0 {
		if rows, err = history(ctx, src, rows, nil); err != nil {
			return nil, err
		}
	}
	g.rebuild(rows, ec)
	g.countRead(before, src.Stats())
	return g, nil
}

// Lookup rebuilds from their whole history the calls that ids name, each
// id a call's id or the unique id of one of its channels: the calls a live
// source saw only in part, around a gap. Gap.CallOf finds each; From and
// To are zero, every call the rows make is kept.
func Lookup(ctx context.Context, src Source, ids []string, ec bridge.Config) (*Gap, error) {
	g := &Gap{}
	if len(ids) == 0 {
		return g, nil
	}
	before := src.Stats()
	rows, err := history(ctx, src, nil, ids)
	if err != nil {
		return nil, err
	}
	g.rebuild(rows, ec)
	g.countRead(before, src.Stats())
	return g, nil
}

// history widens rows (or, when rows is empty, the rows of ids) to the
// whole history of every call and channel they name.
func history(ctx context.Context, src Source, rows []Row, ids []string) ([]Row, error) {
	linked, unique := map[string]bool{}, map[string]bool{}
	for _, id := range ids {
		linked[id], unique[id] = true, true
	}
	var err error
	if len(ids) > 0 {
		if rows, err = src.Related(ctx, keys(linked), keys(unique)); err != nil {
			return nil, err
		}
	}
	for round := 0; round < maxRounds; round++ {
		grew := false
		for i := range rows {
			if id := rows[i].LinkedID; id != "" && !linked[id] {
				linked[id], grew = true, true
			}
			if id := rows[i].UniqueID; id != "" && !unique[id] {
				unique[id], grew = true, true
			}
		}
		if !grew && (round > 0 || len(ids) > 0) {
			break
		}
		if rows, err = src.Related(ctx, keys(linked), keys(unique)); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// countRead adds what the source counted while reading (rows that did not
// parse never reach the mapper).
func (g *Gap) countRead(before, after Stats) {
	g.Stats.Malformed += after.Malformed - before.Malformed
	for _, p := range after.Problems[min(len(before.Problems), len(after.Problems)):] {
		if len(g.Stats.Problems) < maxProblems {
			g.Stats.Problems = append(g.Stats.Problems, p)
		}
	}
	g.Stats.Rows += after.Malformed - before.Malformed
}

// CallOf finds the call id names: a call of the gap with that id, or the
// call its channel of that unique id belonged to (a live source that met a
// call mid-way may name it after a later channel than its first). open
// says the call is still in progress at the last row read.
func (g *Gap) CallOf(id string) (c Call, open, ok bool) {
	for _, cand := range append([]string{id}, g.linkedOf[id]...) {
		for _, c := range g.Calls {
			if c.ID == cand {
				return c, false, true
			}
		}
		for _, o := range g.Open {
			if o == cand {
				return Call{}, true, true
			}
		}
	}
	return Call{}, false, false
}

// rebuild maps the rows and keeps the calls that overlap the span.
func (g *Gap) rebuild(rows []Row, ec bridge.Config) {
	ec.Source = "cel"
	eng := bridge.New(ec)
	byCall := map[string]*Call{}
	var order []*Call
	add := func(a bridge.Activity) *Call {
		c := byCall[a.CallID]
		if c == nil {
			c = &Call{ID: a.CallID, Start: a.StartedAt, End: a.EndedAt}
			byCall[a.CallID] = c
			order = append(order, c)
		}
		c.Activities = append(c.Activities, a)
		if a.StartedAt.Before(c.Start) {
			c.Start = a.StartedAt
		}
		if a.EndedAt.After(c.End) {
			c.End = a.EndedAt
		}
		return c
	}
	var last time.Time
	m := NewMapper(func(ev bridge.Event) {
		if ev.Time.After(last) {
			last = ev.Time
		}
		for _, tr := range eng.Apply(ev) {
			if tr.Activity != nil {
				add(*tr.Activity)
			}
		}
	})
	g.linkedOf = map[string][]string{}
	for _, r := range rows {
		if r.LinkedID != "" && r.LinkedID != r.UniqueID && !slices.Contains(g.linkedOf[r.UniqueID], r.LinkedID) {
			g.linkedOf[r.UniqueID] = append(g.linkedOf[r.UniqueID], r.LinkedID)
		}
		m.Feed(r)
	}
	m.Flush()
	open := map[string]bool{}
	for _, tr := range eng.Flush(last) {
		if tr.Activity != nil {
			open[add(*tr.Activity).ID] = true
		}
	}
	g.Stats.add(m.Stats())
	for _, c := range order {
		if !g.To.IsZero() && (c.End.Before(g.From) || c.Start.After(g.To)) {
			continue
		}
		if open[c.ID] {
			g.Open = append(g.Open, c.ID)
			continue
		}
		g.Calls = append(g.Calls, *c)
	}
	sort.SliceStable(g.Calls, func(i, j int) bool { return g.Calls[i].End.Before(g.Calls[j].End) })
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
