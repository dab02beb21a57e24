package pipeline

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	events     *prometheus.CounterVec
	activities *prometheus.CounterVec
	calls      *prometheus.GaugeVec
	sinkErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbridge_engine_events_total",
			Help: "Events fed to the call-state engine, by source."}, []string{"source"}),
		activities: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbridge_engine_activities_total",
			Help: "Finished activities, by source and state."}, []string{"source", "state"}),
		calls: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "callbridge_engine_calls",
			Help: "Calls in progress, by source."}, []string{"source"}),
		sinkErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "callbridge_sink_errors_total",
			Help: "Activities the sink failed to write."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.events, m.activities, m.calls, m.sinkErrors} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("pipeline metrics: %w", err)
			}
		}
	}
	return m, nil
}
