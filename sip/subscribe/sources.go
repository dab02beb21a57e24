package subscribe

import (
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callbridge/callbridge/internal/netallow"
)

// guardedConn is the listening socket as sipgo reads it: datagrams from a
// source the listener does not take packets from (Config.AllowedSources)
// never reach the SIP stack, so a stranger can neither feed it NOTIFYs
// nor make it answer.
type guardedConn struct {
	net.PacketConn
	guard  netallow.Guard
	refuse func(from net.Addr)
}

func (c *guardedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, from, err := c.PacketConn.ReadFrom(b)
		if err != nil || c.guard.Allows(from) {
			return n, from, err
		}
		c.refuse(from)
	}
}

// refuse counts and drops a packet from a source not allowed.
func (s *Subscriber) refuse(from net.Addr) {
	s.m.refused.Inc()
	s.log.Debug().Str("peer", from.String()).Msg("packet from a source not in sip.subscribe.allowed_sources dropped")
}

// RefusedCounter counts packets dropped for coming from a source not
// allowed.
func (s *Subscriber) RefusedCounter() prometheus.Counter { return s.m.refused }
