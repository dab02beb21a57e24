package cards

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	events  [nKinds]prometheus.Counter // by kind, looked up once here, not per event
	dropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, e *Engine) metrics {
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbridge_cards_events_total",
		Help: "Caller-card events sent to agents, by event (offer, open, close, connected, ended)."}, []string{"event"})
	m := metrics{dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "callbridge_cards_streams_dropped_total",
		Help: "Caller-card streams ended because their client fell behind."})}
	for k, name := range kinds {
		m.events[k] = events.WithLabelValues(name)
	}
	if reg != nil {
		reg.MustRegister(events, m.dropped, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbridge_cards_streams",
			Help: "Caller-card streams (/api/agents/{extension}/events) open now."}, func() float64 { return float64(e.streams()) }))
	}
	return m
}
