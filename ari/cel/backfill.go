package cel

import (
	"context"
	"errors"
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
		linked, unique := map[string]bool{}, map[string]bool{}
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
			if !grew && round > 0 {
				break
			}
			if rows, err = src.Related(ctx, keys(linked), keys(unique)); err != nil {
				return nil, err
			}
		}
	}
	g.rebuild(rows, ec)
	after := src.Stats()
	g.Stats.Malformed += after.Malformed - before.Malformed
	for _, p := range after.Problems[min(len(before.Problems), len(after.Problems)):] {
		if len(g.Stats.Problems) < maxProblems {
			g.Stats.Problems = append(g.Stats.Problems, p)
		}
	}
	g.Stats.Rows += after.Malformed - before.Malformed
	return g, nil
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
	for _, r := range rows {
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
		if c.End.Before(g.From) || c.Start.After(g.To) {
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
