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
	// cancel is called. A listener too slow to keep up loses events
	// rather than holding up a source.
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

// GET /api/live[?user=101]: live states as Server-Sent Events.
func live(l Live) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fl, ok := w.(http.Flusher)
		if !ok || l == nil {
			http.Error(w, "streaming unsupported", http.StatusInternalServerError)
			return
		}
		ch, cancel := l.Subscribe(r.URL.Query().Get("user"))
		defer cancel()
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		fl.Flush()
		keepalive := time.NewTicker(25 * time.Second)
		defer keepalive.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-keepalive.C:
				fmt.Fprint(w, ": keepalive\n\n")
			case ev := <-ch:
				b, _ := json.Marshal(ev)
				fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.State, b)
			}
			fl.Flush()
		}
	}
}
