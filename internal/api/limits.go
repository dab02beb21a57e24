package api

import (
	"errors"
	"sync"
)

// Limits bound what one client can take (http.limits).
type Limits struct {
	// MaxBodyBytes: larger request bodies are refused with 413.
	MaxBodyBytes int64
	// StreamsPerAgent: open live streams per agent token; 429 beyond.
	StreamsPerAgent int
	// StreamsTotal: open live streams of everyone; 429 beyond.
	StreamsTotal int
}

// DefaultLimits are http.limits' defaults.
func DefaultLimits() Limits {
	return Limits{MaxBodyBytes: 1 << 20, StreamsPerAgent: 4, StreamsTotal: 1000}
}

// SetLimits replaces the limits (SIGHUP). Streams open beyond a lowered
// limit stay open; new ones wait for room.
func (m *Mux) SetLimits(l Limits) {
	d := DefaultLimits()
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.StreamsPerAgent <= 0 {
		l.StreamsPerAgent = d.StreamsPerAgent
	}
	if l.StreamsTotal <= 0 {
		l.StreamsTotal = d.StreamsTotal
	}
	m.limits.Store(&l)
}

// Limits are the limits in force.
func (m *Mux) Limits() Limits { return *m.limits.Load() }

// Stream-limit errors, answered with 429.
var (
	errStreamsTotal = errors.New("too many live streams open on this daemon (http.limits.streams_total)")
	errStreamsAgent = errors.New("too many live streams open with this token (http.limits.streams_per_agent)")
)

// streams counts open live streams, in total and per agent.
type streams struct {
	mu      sync.Mutex
	total   int
	byAgent map[string]int
}

// acquire takes a stream slot for agent ("" for a stream not an agent's),
// or says which limit is reached. Call the release function when the
// stream ends.
func (s *streams) acquire(agent string, l Limits) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total >= l.StreamsTotal {
		return nil, errStreamsTotal
	}
	if agent != "" && s.byAgent[agent] >= l.StreamsPerAgent {
		return nil, errStreamsAgent
	}
	if s.byAgent == nil {
		s.byAgent = map[string]int{}
	}
	s.total++
	if agent != "" {
		s.byAgent[agent]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.total--
			if agent != "" {
				if s.byAgent[agent]--; s.byAgent[agent] == 0 {
					delete(s.byAgent, agent)
				}
			}
		})
	}, nil
}

// Streams reports how many live streams are open.
func (m *Mux) Streams() int {
	m.streams.mu.Lock()
	defer m.streams.mu.Unlock()
	return m.streams.total
}
