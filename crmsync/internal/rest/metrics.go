package rest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/callbridge/callbridge/internal/promreg"
)

// Metrics are one CRM's request metrics, named callbridge_<crm>_...; the
// instances of one connector type share them.
type Metrics struct {
	Requests      *prometheus.CounterVec   // connector, op, code
	Duration      *prometheus.HistogramVec // connector, op
	TokenRequests *prometheus.CounterVec   // connector, result
	Throttled     *prometheus.CounterVec   // connector
	InFlight      *prometheus.GaugeVec     // connector
	Pushes        *prometheus.CounterVec   // connector, outcome
}

// NewMetrics makes (or shares, on reg) the metrics of crm ("salesforce").
// title names the CRM in help texts ("Salesforce").
func NewMetrics(reg prometheus.Registerer, crm, title string) (*Metrics, error) {
	p := "callbridge_" + crm + "_"
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: p + "requests_total",
			Help: title + " API requests by connector, operation and HTTP status (\"error\" when no answer came).",
		}, []string{"connector", "op", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    p + "request_duration_seconds",
			Help:    "Time from sending a " + title + " request (or token request, op=\"token\") to its answer.",
			Buckets: prometheus.DefBuckets,
		}, []string{"connector", "op"}),
		TokenRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: p + "token_requests_total",
			Help: title + " token or login requests by connector and result (ok, HTTP status, error).",
		}, []string{"connector", "result"}),
		Throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: p + "throttled_total",
			Help: title + " answers refusing a request for a rate or usage limit, by connector.",
		}, []string{"connector"}),
		InFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: p + "requests_in_flight",
			Help: title + " requests in flight, by connector (capped by max_concurrency).",
		}, []string{"connector"}),
		Pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: p + "pushes_total",
			Help: "Activities pushed to " + title + ", by connector and outcome (created, existed, failed).",
		}, []string{"connector", "outcome"}),
	}
	for _, err := range []error{
		promreg.Share(reg, &m.Requests, &m.TokenRequests, &m.Throttled, &m.Pushes),
		promreg.Share(reg, &m.Duration),
		promreg.Share(reg, &m.InFlight),
	} {
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}
