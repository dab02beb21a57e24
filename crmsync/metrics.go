package crmsync

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callbridge/callbridge/internal/promreg"
)

type deliveryMetrics struct {
	pushes       *prometheus.CounterVec
	pushDuration *prometheus.HistogramVec
	latency      *prometheus.HistogramVec
	storeErrors  *prometheus.CounterVec
}

func newDeliveryMetrics(reg prometheus.Registerer) (*deliveryMetrics, error) {
	m := &deliveryMetrics{
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_crmsync_pushes_total",
			Help: "Push attempts by connector and result (ok, retry, dead, lease_lost; for tasks also skipped and waiting).",
		}, []string{"connector", "result"}),
		pushDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callbridge_crmsync_push_duration_seconds",
			Help:    "Time one push to a connector took.",
			Buckets: prometheus.DefBuckets,
		}, []string{"connector"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callbridge_crmsync_delivery_latency_seconds",
			Help:    "Time from enqueueing an activity to its acknowledged delivery.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 10),
		}, []string{"connector"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_crmsync_store_errors_total",
			Help: "Failed store operations of the delivery workers, by operation.",
		}, []string{"op"}),
	}
	// Shared, not registered twice: a reload builds the dispatcher again.
	if err := promreg.Share(reg, &m.pushes, &m.storeErrors); err != nil {
		return nil, fmt.Errorf("delivery metrics: %w", err)
	}
	if err := promreg.Share(reg, &m.pushDuration, &m.latency); err != nil {
		return nil, fmt.Errorf("delivery metrics: %w", err)
	}
	return m, nil
}
