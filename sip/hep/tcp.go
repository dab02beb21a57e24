package hep

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

func (c *Collector) acceptTCP(ctx context.Context, g guarded[net.Listener], wg *sync.WaitGroup) {
	for {
		conn, err := g.l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Warn().Err(err).Msg("HEP tcp accept")
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		if !g.guard.Allows(conn.RemoteAddr()) {
			c.refuse("tcp", conn.RemoteAddr())
			conn.Close()
			continue
		}
		tc := c.conns.add(conn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.conns.remove(tc)
			c.readTCP(tc)
		}()
	}
}

// readTCP reads HEP3 packets framed by their own length field. A bad
// frame loses the framing, so the connection is closed; the agent
// reconnects.
//
// The clock is read once a packet, and the read deadline (a runtime timer
// to move) moved on only once a sixteenth of IdleTimeout has passed since
// it was set, to that much beyond IdleTimeout: a connection is closed
// after between IdleTimeout and IdleTimeout plus a sixteenth of silence,
// and a busy one pays for the deadline a few times a minute rather than
// for every packet.
func (c *Collector) readTCP(tc *tcpConn) {
	r := bufio.NewReaderSize(tc.conn, 64<<10)
	hdr := make([]byte, 6)
	idle := c.cfg.IdleTimeout
	step := idle / 16
	var set time.Time
	for first := true; ; first = false {
		now := time.Now()
		if !first {
			tc.touch(now) // a whole packet came
		}
		if now.Sub(set) >= step {
			_ = tc.conn.SetReadDeadline(now.Add(idle + step))
			set = now
		}
		if _, err := io.ReadFull(r, hdr); err != nil {
			if isTimeout(err) {
				c.m.closed.WithLabelValues("idle").Inc()
			}
			return
		}
		if string(hdr[:4]) != "HEP3" {
			c.m.malformed.WithLabelValues("frame").Inc()
			c.m.closed.WithLabelValues("framing").Inc()
			c.log.Debug().Str("peer", tc.conn.RemoteAddr().String()).Msg("HEP tcp: lost framing, closing")
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[4:]))
		if n < 6 {
			c.m.malformed.WithLabelValues("frame").Inc()
			c.m.closed.WithLabelValues("framing").Inc()
			return
		}
		b := c.buffer(n)
		copy(b, hdr)
		if _, err := io.ReadFull(r, b[6:]); err != nil {
			if isTimeout(err) {
				c.m.closed.WithLabelValues("idle").Inc()
			}
			c.release(b)
			return
		}
		c.enqueue(b, "tcp")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// tcpConn is one open capture-agent connection.
type tcpConn struct {
	conn net.Conn
	src  netip.Addr
	// last is when the last whole packet was received (or the accept),
	// in Unix nanoseconds: stored by the reader for every packet, read
	// only to choose a connection to close.
	last atomic.Int64
}

func (tc *tcpConn) touch(now time.Time) { tc.last.Store(now.UnixNano()) }

func (tc *tcpConn) idleSince() time.Time { return time.Unix(0, tc.last.Load()) }

// connTable bounds open TCP connections, per source address and in all.
// It never refuses a connection: over a bound it closes the connection
// that was silent the longest (of the same source, or of all), because a
// working agent sends and a dead or idle one does not.
type connTable struct {
	mu        sync.Mutex
	max, per  int
	m         metrics
	open      map[*tcpConn]struct{}
	bySource  map[netip.Addr]int
	closedAll bool
}

func newConnTable(max, per int, m metrics) *connTable {
	return &connTable{max: max, per: per, m: m, open: map[*tcpConn]struct{}{}, bySource: map[netip.Addr]int{}}
}

func (t *connTable) add(conn net.Conn) *tcpConn {
	tc := &tcpConn{conn: conn}
	tc.touch(time.Now())
	if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); err == nil {
		tc.src = ap.Addr().Unmap()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closedAll {
		conn.Close()
		return tc
	}
	if t.bySource[tc.src] >= t.per {
		t.evict(func(o *tcpConn) bool { return o.src == tc.src }, "source_limit")
	}
	if len(t.open) >= t.max {
		t.evict(func(*tcpConn) bool { return true }, "limit")
	}
	t.open[tc] = struct{}{}
	t.bySource[tc.src]++
	t.m.conns.Set(float64(len(t.open)))
	return tc
}

// evict closes the most idle open connection that match selects; its
// reader then removes it. Called with t.mu held.
func (t *connTable) evict(match func(*tcpConn) bool, reason string) {
	var victim *tcpConn
	for o := range t.open {
		if match(o) && (victim == nil || o.idleSince().Before(victim.idleSince())) {
			victim = o
		}
	}
	if victim == nil {
		return
	}
	delete(t.open, victim)
	t.bySource[victim.src]--
	if t.bySource[victim.src] <= 0 {
		delete(t.bySource, victim.src)
	}
	victim.conn.Close()
	t.m.closed.WithLabelValues(reason).Inc()
}

func (t *connTable) remove(tc *tcpConn) {
	tc.conn.Close()
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.open[tc]; !ok {
		return // evicted
	}
	delete(t.open, tc)
	t.bySource[tc.src]--
	if t.bySource[tc.src] <= 0 {
		delete(t.bySource, tc.src)
	}
	t.m.conns.Set(float64(len(t.open)))
}

func (t *connTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.open)
}

func (t *connTable) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closedAll = true
	for o := range t.open {
		o.conn.Close()
	}
}
