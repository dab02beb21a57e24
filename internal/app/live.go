package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// liveEvent is one live transition as /api/live streams it: what a screen
// pop needs, the moment it happens.
type liveEvent struct {
	Time         string `json:"time"`
	CallID       string `json:"call_id,omitempty"`
	User         string `json:"user"`
	State        string `json:"state"` // ringing, connected, ended
	Direction    string `json:"direction,omitempty"`
	RemoteNumber string `json:"remote_number,omitempty"`
	RemoteName   string `json:"remote_name,omitempty"`
	Source       string `json:"source"`
}

// hub fans live transitions out to the /api/live listeners. A listener too
// slow to keep up loses events rather than holding up the engine.
type hub struct {
	mu   sync.Mutex
	subs map[chan liveEvent]string // listener -> user filter ("" = all)
}

func (h *hub) publish(source string, tr bridge.Transition) {
	ev := liveEvent{Time: tr.Time.UTC().Format(bridge.TimeFormat), CallID: tr.CallID, User: tr.User,
		State: string(tr.State), Direction: string(tr.Direction), RemoteNumber: tr.RemoteNumber,
		RemoteName: tr.RemoteName, Source: source}
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch, user := range h.subs {
		if user != "" && user != ev.User {
			continue
		}
		select {
		case ch <- ev:
		default: // slow listener: drop, never block a source
		}
	}
}

// serve streams live events as Server-Sent Events; ?user=101 narrows them
// to one user (an agent's own screen pops).
func (h *hub) serve(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch := make(chan liveEvent, 64)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan liveEvent]string{}
	}
	h.subs[ch] = r.URL.Query().Get("user")
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}()
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
