package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Live is the live state of calls: each user's ringing / connected / ended
// transitions as the engine and the SIP subscriber see them.
type Live interface {
	// Subscribe streams the events of user ("" for everyone's) until
	// cancel is called. A listener too slow to keep up is dropped — its
	// channel is closed — rather than losing events or holding up a
	// source: its client reconnects and starts afresh.
	Subscribe(user string) (events <-chan LiveEvent, cancel func())
}

// LiveEvent is one live transition as /api/live streams it: what a screen
// pop needs, the moment it happens.
type LiveEvent struct {
	Time         string `json:"time"`
	CallID       string `json:"call_id,omitempty"`
	User         string `json:"user"`
	State        string `json:"state"` // ringing, connected, ended
	Direction    string `json:"direction,omitempty"`
	RemoteNumber string `json:"remote_number,omitempty"`
	RemoteName   string `json:"remote_name,omitempty"`
	Source       string `json:"source"`
}

// liveRole: one user's live calls (?user=101, an agent's own screen pops)
// are an agent's; everyone's are an admin's.
func liveRole(r *http.Request) Role {
	if r.URL.Query().Get("user") != "" {
		return Agent
	}
	return Admin
}

// keepalive is how often an idle stream gets a comment line, so proxies
// and the client see it alive.
const keepalive = 25 * time.Second

// GET /api/live[?user=101]: live states as Server-Sent Events, within the
// stream limits (429 beyond them).
func (m *Mux) live(l Live) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fl, ok := w.(http.Flusher)
		if !ok || l == nil {
			http.Error(w, "streaming unsupported", http.StatusInternalServerError)
			return
		}
		var agent string
		if p, ok := PrincipalFrom(r.Context()); ok && p.Role == Agent {
			agent = p.User
		}
		release, err := m.streams.acquire(agent, m.Limits())
		if err != nil {
			w.Header().Set("Retry-After", "30")
			http.Error(w, err.Error(), http.StatusTooManyRequests)
			return
		}
		defer release()
		ch, cancel := l.Subscribe(r.URL.Query().Get("user"))
		defer cancel()
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		fl.Flush()
		tick := time.NewTicker(keepalive)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				fmt.Fprint(w, ": keepalive\n\n")
			case ev, ok := <-ch:
				if !ok {
					// Dropped for falling behind: say so, and end the
					// stream; EventSource reconnects by itself.
					fmt.Fprint(w, "event: dropped\ndata: {\"reason\":\"too slow\"}\n\n")
					fl.Flush()
					return
				}
				b, _ := json.Marshal(ev)
				fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.State, b)
			}
			fl.Flush()
		}
	}
}
