package app

import (
	"sync"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/api"
)

// hub fans the live transitions of every source (and of the SIP
// subscriber) out to the API's listeners. It implements api.Live.
type hub struct {
	mu   sync.Mutex
	subs map[chan api.LiveEvent]string // listener -> user filter ("" = all)
}

// publish hands tr, as seen by source, to every listener for its user.
// A listener too slow to keep up loses it rather than hold up a source.
func (h *hub) publish(source string, tr bridge.Transition) {
	ev := api.LiveEvent{Time: tr.Time.UTC().Format(bridge.TimeFormat), CallID: tr.CallID, User: tr.User,
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

// Subscribe implements api.Live.
func (h *hub) Subscribe(user string) (<-chan api.LiveEvent, func()) {
	ch := make(chan api.LiveEvent, 64)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan api.LiveEvent]string{}
	}
	h.subs[ch] = user
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}
