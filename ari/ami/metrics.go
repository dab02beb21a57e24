package ami

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/callbridge/callbridge/internal/promreg"
)

// metrics are the client's counters. None has a label: calls and numbers
// never become label values.
type metrics struct {
	events        prometheus.Counter
	malformed     prometheus.Counter
	reconnects    prometheus.Counter
	loginFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callbridge_ami_events_total",
			Help: "AMI events mapped and passed to the engine.",
		}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callbridge_ami_malformed_total",
			Help: "AMI messages dropped because they were cut off, too long, or did not parse or map.",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callbridge_ami_reconnects_total",
			Help: "Times the AMI connection was lost or failed and was dialled again.",
		}),
		loginFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callbridge_ami_login_failures_total",
			Help: "AMI logins Asterisk refused.",
		}),
	}
	// A second client on the same registry (a reload) shares the counters.
	if err := promreg.Share(reg, &m.events, &m.malformed, &m.reconnects, &m.loginFailures); err != nil {
		return nil, err
	}
	return m, nil
}
