package reconnect

import (
	"sync"
	"time"
)

// Status is a reconnecting connection's state, for readiness.
type Status struct {
	// Up: connected and in sync.
	Up bool
	// Detail says why not ("connecting", the last error), never a secret.
	Detail string
	// Since is when it last changed (zero before the first change).
	Since time.Time
}

// State tracks a connection's Status; the zero State is down,
// "connecting". Safe for concurrent use.
type State struct {
	mu sync.Mutex
	st Status
}

// Up records the connection up, in sync.
func (s *State) Up() { s.set(Status{Up: true, Detail: "connected"}) }

// Down records the connection down because of err (nil: it ended).
func (s *State) Down(err error) {
	d := "disconnected"
	if err != nil {
		d = "disconnected: " + err.Error()
	}
	s.set(Status{Detail: d})
}

func (s *State) set(st Status) {
	st.Since = time.Now()
	s.mu.Lock()
	s.st = st
	s.mu.Unlock()
}

// Get is the state now.
func (s *State) Get() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.Detail == "" {
		return Status{Detail: "connecting"}
	}
	return s.st
}
