package crmsync

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// QueueCollector exports a store's queue sizes as
// callbridge_crmsync_queue_jobs{connector,state} at scrape time.
type QueueCollector struct {
	store Store
	desc  *prometheus.Desc
}

// NewQueueCollector returns a collector reading s; register it once.
func NewQueueCollector(s Store) *QueueCollector {
	return &QueueCollector{store: s, desc: prometheus.NewDesc("callbridge_crmsync_queue_jobs",
		"Jobs in the delivery queue by connector and state (ready, in_flight, delayed, dead).",
		[]string{"connector", "state"}, nil)}
}

// Describe implements prometheus.Collector.
func (q *QueueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

// Collect implements prometheus.Collector.
func (q *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := q.store.Stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(q.desc, err)
		return
	}
	for _, s := range st {
		for state, v := range map[string]int64{"ready": s.Ready, "in_flight": s.InFlight, "delayed": s.Delayed, "dead": s.Dead} {
			ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(v), s.Connector, state)
		}
	}
}
