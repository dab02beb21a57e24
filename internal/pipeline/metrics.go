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

	backfilled        *prometheus.CounterVec
	backfillGaps      *prometheus.CounterVec
	backfillFallbacks *prometheus.CounterVec
	backfillErrors    *prometheus.CounterVec
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
		backfilled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbridge_backfill_activities_total",
			Help: "Activities delivered from CEL for calls a source did not see whole, by source."}, []string{"source"}),
		backfillGaps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbridge_backfill_gaps_total",
			Help: "Gaps in a source's events filled from CEL, by source."}, []string{"source"}),
		backfillFallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbridge_backfill_fallbacks_total",
			Help: "Calls delivered as the live source saw them because CEL did not show them over in time, by source."}, []string{"source"}),
		backfillErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbridge_backfill_errors_total",
			Help: "Failed reads of CEL, by source."}, []string{"source"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.events, m.activities, m.calls, m.sinkErrors,
			m.backfilled, m.backfillGaps, m.backfillFallbacks, m.backfillErrors} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("pipeline metrics: %w", err)
			}
		}
	}
	return m, nil
}
