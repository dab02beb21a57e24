package daemon

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/pipeline"
)

// countingPipeline counts events and calls in progress for the metrics.
type countingPipeline struct {
	*pipeline.Pipeline
	events prometheus.Counter
	calls  prometheus.Gauge
}

func (c *countingPipeline) Handle(ev bridge.Event) {
	c.events.Inc()
	c.Pipeline.Handle(ev)
	st, _ := c.Stats()
	c.calls.Set(float64(st.Calls))
}
