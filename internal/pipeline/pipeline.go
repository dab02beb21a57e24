package pipeline

import (
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/phone"
)

// Pipeline is not safe for concurrent use: one source goroutine feeds it.
type Pipeline struct {
	eng        *bridge.Engine
	norm       phone.Normalizer
	onActivity func(bridge.Activity)
	onLive     func(bridge.Transition)
	last       time.Time
	events     int
}

// New builds a pipeline. onLive may be nil.
func New(cfg bridge.Config, norm phone.Normalizer, onActivity func(bridge.Activity), onLive func(bridge.Transition)) *Pipeline {
	return &Pipeline{eng: bridge.New(cfg), norm: norm, onActivity: onActivity, onLive: onLive}
}

// Handle applies one event.
func (p *Pipeline) Handle(ev bridge.Event) {
	p.events++
	if ev.Time.After(p.last) {
		p.last = ev.Time
	}
	p.emit(p.eng.Apply(ev))
}

// Flush ends the calls still open (end of a recording) as of the newest
// event seen.
func (p *Pipeline) Flush() { p.emit(p.eng.Flush(p.last)) }

// Stats reports the engine's state and the events handled.
func (p *Pipeline) Stats() (bridge.Stats, int) { return p.eng.Stats(), p.events }

func (p *Pipeline) emit(ts []bridge.Transition) {
	for _, tr := range ts {
		if tr.Activity == nil {
			if p.onLive != nil {
				p.onLive(tr)
			}
			continue
		}
		a := *tr.Activity
		if !a.Internal {
			if e164, ok := p.norm.Normalize(a.RemoteNumber); ok {
				a.RemoteE164 = e164
			}
		}
		p.onActivity(a)
	}
}
