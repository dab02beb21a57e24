package hep

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	packets   *prometheus.CounterVec
	malformed *prometheus.CounterVec
	dropped   prometheus.Counter
	live      prometheus.Gauge
	events    prometheus.Counter
	conns     prometheus.Gauge
	closed    *prometheus.CounterVec
	refused   *prometheus.CounterVec
}

func newMetrics(r prometheus.Registerer) metrics {
	m := metrics{
		packets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_sip_hep_packets_total", Help: "HEP packets received, by transport.",
		}, []string{"transport"}),
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_sip_hep_malformed_total", Help: "Packets dropped as malformed, by what was wrong: hep, sip, time, auth, frame.",
		}, []string{"kind"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callbridge_sip_hep_dropped_total", Help: "Packets dropped because the tracker queue was full.",
		}),
		live: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callbridge_sip_dialogs_live", Help: "INVITE dialogs being tracked.",
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callbridge_sip_events_total", Help: "Engine events produced from SIP.",
		}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callbridge_sip_hep_tcp_connections", Help: "Open HEP TCP connections.",
		}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_sip_hep_tcp_closed_total", Help: "HEP TCP connections closed by the collector, by why: idle, framing, source_limit, limit.",
		}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_sip_hep_refused_total", Help: "HEP packets (udp) and connections (tcp) refused because their source is not in sip.hep_allowed_sources.",
		}, []string{"transport"}),
	}
	if r != nil {
		r.MustRegister(m.packets, m.malformed, m.dropped, m.live, m.events, m.conns, m.closed, m.refused)
	}
	return m
}
