package ari

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/callbridge/callbridge/internal/promreg"
)

// sourceMetrics are the live source's metrics. None has a label: calls and
// numbers never become label values.
type sourceMetrics struct {
	received     prometheus.Counter
	mapped       prometheus.Counter
	malformed    prometheus.Counter
	reconnects   prometheus.Counter
	authFailures prometheus.Counter
	connected    prometheus.Gauge
}

func newSourceMetrics(reg prometheus.Registerer) (*sourceMetrics, error) {
	m := &sourceMetrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callbridge_ari_events_received_total",
			Help: "Messages received on the ARI events websocket.",
		}),
		mapped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callbridge_ari_events_mapped_total",
			Help: "ARI events mapped and passed to the engine.",
		}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callbridge_ari_malformed_total",
			Help: "ARI websocket messages dropped because they were not a well-formed event or were too long.",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callbridge_ari_reconnects_total",
			Help: "Times the ARI connection was lost or failed and was tried again.",
		}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callbridge_ari_auth_failures_total",
			Help: "ARI requests Asterisk refused for their credentials.",
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callbridge_ari_connected",
			Help: "1 while the ARI events websocket is up and reconciled, else 0.",
		}),
	}
	if err := promreg.Share(reg, &m.received, &m.mapped, &m.malformed, &m.reconnects, &m.authFailures); err != nil {
		return nil, err
	}
	if err := promreg.Share(reg, &m.connected); err != nil {
		return nil, err
	}
	return m, nil
}
