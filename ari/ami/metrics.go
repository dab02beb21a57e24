package ami

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
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
	if reg == nil {
		return m, nil
	}
	for _, c := range []*prometheus.Counter{&m.events, &m.malformed, &m.reconnects, &m.loginFailures} {
		if err := reg.Register(*c); err != nil {
			// A second client on the same registry (a reload) shares the
			// counters rather than failing.
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			existing, ok := are.ExistingCollector.(prometheus.Counter)
			if !ok {
				return nil, err
			}
			*c = existing
		}
	}
	return m, nil
}
