package pipeline

import (
	"fmt"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/phone"
	"github.com/callbridge/callbridge/internal/pipeline/journal"
)

// Engine is the engine stage of the path: one source's events, journaled,
// through the call-state engine, and what comes out handed on: finished
// activities, completed with the remote party's E.164 number, and live
// transitions. Replay uses the same Engine, so a recording gives exactly
// what the live source would have. It is not safe for concurrent use: one
// source goroutine feeds it.
type Engine struct {
	eng        *bridge.Engine
	norm       phone.Normalizer
	onActivity func(bridge.Activity)
	onLive     func(bridge.Transition)
	last       time.Time
	events     int
	// trs is the transitions of the event being applied, one slice
	// reused (ApplyAppend).
	trs []bridge.Transition
	batch

	j         *journal.Journal
	compactAt int
	restoring bool
	// OnJournalError is told when the journal cannot be written; the event
	// is still applied (a full disk must not stop calls being reported).
	OnJournalError func(error)

	// watch, when set, sees every event applied, live or replayed, and
	// may hold events back from the journal and keep it whole (gap.go).
	watch    watcher
	deferred []bridge.Event
}

// watcher is told of every event the engine applies; the gap filler is
// one.
type watcher interface {
	// seen comes before ev is journaled and applied; replay says ev comes
	// from the journal.
	seen(ev bridge.Event, replay bool)
	// applied comes after.
	applied(ev bridge.Event, replay bool)
	// deferJournal says a live event is to be applied now and journaled
	// only at Commit.
	deferJournal(ev bridge.Event) bool
	// keep says the journal must stay whole: no reset, no compaction.
	keep() bool
}

// compactEvery is the journal size that triggers a compaction; it grows
// when many events must be kept (long calls), so compaction stays rare.
const compactEvery = 20000

// NewEngine builds an engine stage that hands on finished activities one
// by one. onLive, which may be nil, is told every transition: the live
// ones and those that carry a finished activity.
func NewEngine(cfg bridge.Config, norm phone.Normalizer, onActivity func(bridge.Activity), onLive func(bridge.Transition)) *Engine {
	return NewBatchEngine(cfg, norm, func(as []bridge.Activity) {
		for _, a := range as {
			onActivity(a)
		}
	}, onLive)
}

// Restore replays j into the engine, so that calls open when the last
// process stopped are open again, and journals every event from now on.
// Activities the replay finishes go to onActivity again; delivery is
// idempotent on their ids. Live transitions are not repeated.
func (p *Engine) Restore(j *journal.Journal) (int, error) {
	if journalOff {
		return 0, nil
	}
	p.restoring = true
	n, err := j.Replay(func(ev bridge.Event) {
		if p.watch != nil {
			p.watch.seen(ev, true)
		}
		p.apply(ev)
		if p.watch != nil {
			p.watch.applied(ev, true)
		}
	})
	p.restoring = false
	if err != nil {
		return n, fmt.Errorf("restore: %w", err)
	}
	if m := j.Marked(); m.After(p.last) {
		p.last = m
	}
	p.j = j
	p.compactAt = max(compactEvery, 2*j.Len())
	return n, nil
}

// Last is the time of the newest event applied, after a restore also the
// journal's mark: zero when nothing is known of any earlier session.
func (p *Engine) Last() time.Time { return p.last }

// OpenCalls lists the ids of the calls in progress.
func (p *Engine) OpenCalls() []string { return p.eng.OpenCalls() }

// Restoring reports whether the events being applied come from the journal.
func (p *Engine) Restoring() bool { return p.restoring }

// Handle journals and applies one event: a batch of its own unless one
// is open (Begin).
func (p *Engine) Handle(ev bridge.Event) {
	if ev.Kind == bridge.Snapshot && !p.last.IsZero() {
		// What the engine knows was last known alive at the newest event
		// it saw: after a restart that is the journal's, which the source
		// cannot know.
		ev.Time = p.last
	}
	if p.watch != nil {
		p.watch.seen(ev, false)
	}
	if p.j != nil {
		if p.watch != nil && p.watch.deferJournal(ev) {
			p.deferred = append(p.deferred, ev)
		} else {
			p.journal(ev)
		}
	}
	p.apply(ev)
	if p.watch != nil {
		p.watch.applied(ev, false)
	}
	if !p.open {
		p.End()
	}
}

func (p *Engine) journal(ev bridge.Event) {
	if err := p.j.Append(ev); err != nil && p.OnJournalError != nil {
		p.OnJournalError(err)
	}
}

// Commit journals the events held back (deferJournal), in order.
func (p *Engine) Commit() {
	for _, ev := range p.deferred {
		if p.j != nil {
			p.journal(ev)
		}
	}
	if p.j != nil && len(p.deferred) > 0 && !p.open {
		// Appends are buffered until a flush: outside a batch, this is it.
		if err := p.j.Flush(); err != nil && p.OnJournalError != nil {
			p.OnJournalError(err)
		}
	}
	p.deferred = nil
}

func (p *Engine) apply(ev bridge.Event) {
	p.events++
	if ev.Time.After(p.last) {
		p.last = ev.Time
	}
	p.trs = p.eng.ApplyAppend(p.trs[:0], ev)
	p.emit(p.trs)
	clear(p.trs) // the activities are handed on; keep none alive here
}

// tidy keeps the journal to the events of calls still open: all of it goes
// when no call is open, and a compaction drops finished calls' events when
// it has grown large.
func (p *Engine) tidy() {
	if p.j == nil || (p.watch != nil && p.watch.keep()) {
		return
	}
	var err error
	switch {
	case p.eng.Stats().Calls == 0:
		// The newest event leaves the journal: the mark keeps its time.
		if err = p.j.Mark(p.last); err == nil {
			err = p.j.Reset()
		}
	case p.j.Len() >= p.compactAt:
		if err = p.j.Mark(p.last); err == nil {
			err = p.j.Compact(p.holds)
		}
		p.compactAt = max(compactEvery, 2*p.j.Len())
	}
	if err != nil && p.OnJournalError != nil {
		p.OnJournalError(err)
	}
}

// holds tells whether a journaled event's channel is in a call still open.
func (p *Engine) holds(id string) bool { return p.eng.Knows(id) }

// Flush ends the calls still open (end of a recording) as of the newest
// event seen.
func (p *Engine) Flush() {
	p.emit(p.eng.Flush(p.last))
	p.release()
}

// Stats reports the engine's state and the events handled.
func (p *Engine) Stats() (bridge.Stats, int) { return p.eng.Stats(), p.events }

func (p *Engine) emit(ts []bridge.Transition) {
	for _, tr := range ts {
		// The live side sees a finished activity too: a leg can end
		// with its activity and no live hang-up before it (a ringing
		// phone whose call another user picked up), and its caller
		// card must end with it.
		if p.onLive != nil && !p.restoring {
			p.onLive(tr)
		}
		if tr.Activity != nil {
			p.onActivity(p.complete(*tr.Activity))
		}
	}
}

// complete fills in what the pipeline adds to the engine's activities: the
// remote party's E.164 number.
func (p *Engine) complete(a bridge.Activity) bridge.Activity {
	if !a.Internal {
		if e164, ok := p.norm.Normalize(a.RemoteNumber); ok {
			a.RemoteE164 = e164
		}
	}
	return a
}
