package pipeline

import (
	"context"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/phone"
)

// Events are handled in batches: the events a source has read and not yet
// handed on are one batch, however many (one when the source cannot tell).
// A batch's events are journaled with one write; only then are the
// activities they finished handed on, together, so that the sink keeps
// them with one write and one sync before the policy or the queue sees
// any. Nothing waits for a timer: a batch ends when the source has nothing
// more at hand.

// batch is an Engine's batch being built.
type batch struct {
	open bool // Begin was called, End not yet
	// held are the activities the batch finished, handed on by End.
	held []bridge.Activity
	hand func([]bridge.Activity)
	// keepBack, when set, may keep a finished activity from the batch
	// (the gap filler holding it until the PBX's history answers).
	keepBack func(bridge.Activity) bool
}

// NewBatchEngine builds an engine stage that hands on the activities each
// batch of events finished together; onBatch must not keep the slice.
// onLive, which may be nil, is told every transition, as NewEngine's.
func NewBatchEngine(cfg bridge.Config, norm phone.Normalizer, onBatch func([]bridge.Activity), onLive func(bridge.Transition)) *Engine {
	p := &Engine{eng: bridge.New(cfg), norm: norm, onLive: onLive, compactAt: compactEvery}
	p.hand = onBatch
	p.onActivity = p.hold
	return p
}

// hold keeps a finished activity for End; the activities a journal replay
// finishes are handed on at once (a replay is its own batch: nothing of
// it is new to the journal).
func (p *Engine) hold(a bridge.Activity) {
	if p.keepBack != nil && p.keepBack(a) {
		return
	}
	if p.restoring {
		p.hand([]bridge.Activity{a})
		return
	}
	p.held = append(p.held, a)
}

// Begin opens a batch: the events handled until End are one.
func (p *Engine) Begin() { p.open = true }

// End ends the batch: its events are written to the journal, then the
// activities they finished are handed on, then the journal is trimmed to
// the calls still open. In that order, a crash at any point leaves every
// activity either handed on or still to come from the journal's replay.
func (p *Engine) End() {
	p.open = false
	if p.j != nil {
		if err := p.j.Flush(); err != nil && p.OnJournalError != nil {
			p.OnJournalError(err)
		}
	}
	p.release()
	if p.j != nil {
		p.tidy()
	}
}

// release hands on the activities held.
func (p *Engine) release() {
	if len(p.held) > 0 {
		p.hand(p.held)
		clear(p.held)
		p.held = p.held[:0]
	}
}

// BatchSource is a Source that can tell when it has handed on every event
// it has read, so that those events are one batch: ready is called then,
// before the source waits for more from the PBX.
type BatchSource interface {
	Source
	RunBatches(ctx context.Context, out func(bridge.Event), ready func()) error
}

// run runs dec, in batches if it can tell them.
func (s *source) run(ctx context.Context, dec Source) error {
	if b, ok := dec.(BatchSource); ok {
		err := b.RunBatches(ctx, s.add, s.ready)
		s.ready() // a batch the source left open when it stopped
		return err
	}
	return dec.Run(ctx, s.handle)
}

// add handles one event of a batch.
func (s *source) add(ev bridge.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.engine.Begin()
	s.events.Inc()
	s.engine.Handle(ev)
}

// ready ends a batch.
func (s *source) ready() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.engine.End()
	st, _ := s.engine.Stats()
	s.calls.Set(float64(st.Calls))
}
