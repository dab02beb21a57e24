package app

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/api"
)

// hub fans the live transitions of every source (and of the SIP
// subscriber) out to the API's listeners. It implements api.Live.
type hub struct {
	mu   sync.Mutex
	subs map[chan api.LiveEvent]string // listener -> user filter ("" = all)
	// dropped counts listeners dropped for falling behind
	// (callbridge_api_live_dropped_total).
	dropped atomic.Int64
}

// liveBuffer is how many events a listener may fall behind before it is
// dropped.
const liveBuffer = 64

// publish hands tr, as seen by source, to every listener for its user.
// A listener too slow to keep up is dropped — its channel closed, so its
// stream ends and its client reconnects — rather than handed a stream
// with events missing, or allowed to hold up a source.
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
		default:
			delete(h.subs, ch)
			close(ch)
			h.dropped.Add(1)
		}
	}
}

// Subscribe implements api.Live.
func (h *hub) Subscribe(user string) (<-chan api.LiveEvent, func()) {
	ch := make(chan api.LiveEvent, liveBuffer)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan api.LiveEvent]string{}
	}
	h.subs[ch] = user
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
		h.mu.Unlock()
	}
}

// listeners is how many streams are subscribed.
func (h *hub) listeners() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// register adds the hub's metrics to reg.
func (h *hub) register(reg prometheus.Registerer) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbridge_api_live_dropped_total",
			Help: "Live streams (/api/live) ended because their client fell more than 64 events behind."},
			func() float64 { return float64(h.dropped.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbridge_api_live_streams",
			Help: "Live streams (/api/live) open now."},
			func() float64 { return float64(h.listeners()) }),
	)
}
