package cards

import (
	"sort"
	"time"
)

// Phone states, as presence reports them.
const (
	Idle    = "idle"
	Ringing = "ringing"
	OnCall  = "on_call"
)

// Presence is one user as GET /api/agents lists them.
type Presence struct {
	Extension string `json:"extension"`
	Name      string `json:"name,omitempty"`
	// CurrentlyActive: the user has a caller-card stream open (their
	// desktop is up); Streams how many.
	CurrentlyActive bool `json:"currently_active"`
	Streams         int  `json:"streams"`
	// Phone is idle, ringing or on_call, since Since (absent when
	// nothing was seen since callbridge started).
	Phone string     `json:"phone"`
	Since *time.Time `json:"since,omitempty"`
	Calls int        `json:"calls"`
	// Busy: ringing or on a call (Phone is not idle), what a routing
	// rule's when_free reads.
	Busy bool `json:"busy"`
}

// phone works out a's phone state from its calls in progress: on_call
// when one of them is connected, ringing when there are others.
func (e *Engine) phone(a *agent, at time.Time) {
	st := Idle
	switch {
	case a.connected > 0:
		st = OnCall
	case len(a.calls) > 0:
		st = Ringing
	}
	if st != a.phone {
		a.phone, a.since = st, at.UTC()
	}
}

// Presence lists every user of the directory, and any other user seen,
// by extension.
func (e *Engine) Presence() []Presence {
	e.mu.Lock()
	defer e.mu.Unlock()
	exts := map[string]bool{}
	for ext := range e.users {
		exts[ext] = true
	}
	for ext, a := range e.agents {
		if len(a.calls) > 0 || len(a.subs) > 0 || !a.since.IsZero() {
			exts[ext] = true
		}
	}
	out := make([]Presence, 0, len(exts))
	for ext := range exts {
		p := Presence{Extension: ext, Name: e.users[ext], Phone: Idle}
		if a := e.agents[ext]; a != nil {
			p.Streams, p.Phone, p.Calls = len(a.subs), a.phone, len(a.calls)
			p.CurrentlyActive = p.Streams > 0
			p.Busy = p.Phone != Idle
			if !a.since.IsZero() {
				t := a.since
				p.Since = &t
			}
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Extension < out[j].Extension })
	return out
}

// OnCall reports whether user has a call ringing or in progress (for
// routing's when_free): a call first seen within staleCall that has not
// ended, so a call whose end a source lost stops counting.
// It implements routing.Presence.
func (e *Engine) OnCall(user string) bool {
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.agents[user]
	if a == nil {
		return false
	}
	for _, c := range a.calls {
		if now.Sub(c.seen) <= staleCall {
			return true
		}
	}
	return false
}

// streams is how many caller-card streams are open.
func (e *Engine) streams() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, a := range e.agents {
		n += len(a.subs)
	}
	return n
}
