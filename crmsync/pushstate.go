package crmsync

import (
	"sort"
	"sync"
	"time"
)

// PushState is a connector's last push outcome, for readiness.
type PushState struct {
	Connector string
	// Result is ok, retry (failed, will be retried), dead (refused for
	// good) or lease_lost; empty before the first push.
	Result string
	// Error is the CRM's reason for the last failure.
	Error string
	// Failing counts the retryable failures since the last success.
	Failing int
	At      time.Time
}

// Failed reports whether the CRM is failing now: the last push failed in a
// way that is retried (unreachable, 5xx, 429, a refused credential). A
// dead letter is the activity's problem, not the CRM being down.
func (s PushState) Failed() bool { return s.Result == "retry" }

// PushStates records each connector's last push outcome (Settle writes
// it). Safe for concurrent use; the zero value is ready.
type PushStates struct {
	mu sync.Mutex
	m  map[string]PushState
}

func (p *PushStates) record(connector, result string, err error, at time.Time) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]PushState{}
	}
	s := p.m[connector]
	s.Connector, s.Result, s.At, s.Error = connector, result, at, ""
	switch result {
	case "ok":
		s.Failing = 0
	case "retry":
		s.Failing++
	}
	if err != nil {
		s.Error = err.Error()
	}
	p.m[connector] = s
}

// Get is the state of connector (zero when it has not pushed yet).
func (p *PushStates) Get(connector string) PushState {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.m[connector]
	s.Connector = connector
	return s
}

// All lists every connector that pushed, by name.
func (p *PushStates) All() []PushState {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PushState, 0, len(p.m))
	for _, s := range p.m {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Connector < out[j].Connector })
	return out
}
