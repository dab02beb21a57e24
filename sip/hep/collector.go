package hep

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/netallow"
	"github.com/callbridge/callbridge/sip/dialog"
)

// Config configures a Collector.
type Config struct {
	// UDP and TCP are the listen addresses ("127.0.0.1:9060", ":9060");
	// every one is opened. At least one address is required.
	UDP, TCP []string
	// AuthKey, when set, is the password capture agents must send (HEP
	// chunk 0x000e); packets without it are counted and dropped.
	AuthKey string
	// AllowedSources are the capture agents' networks. A listener off
	// loopback (a wildcard or a network address) takes packets (UDP) and
	// connections (TCP) only from them, and New refuses one without
	// them; others are counted (callbridge_sip_hep_refused_total) and
	// dropped. A loopback listener without them hears the host only, and
	// takes it all.
	AllowedSources netallow.List
	// Dialog configures the SIP dialog tracker.
	Dialog dialog.Config
	// Queue bounds the packets waiting for the tracker (default 8192).
	// When it is full new packets are dropped and counted: the network
	// readers never block, so a slow consumer cannot stall the socket
	// buffers into silent kernel drops.
	Queue int
	// MaxConns bounds open TCP connections in all (default 256) and
	// MaxConnsPerSource those from one IP address (default 8). A new
	// connection over either bound closes the one of that source (or of
	// all, for MaxConns) that was silent the longest: a capture agent
	// reconnecting after a network failure, while its dead connections
	// still look open, gets in at once, and connections nobody uses
	// cannot keep anyone out.
	MaxConns, MaxConnsPerSource int
	// IdleTimeout closes TCP connections silent for this long, or up to
	// a sixteenth longer (default 60 s); agents open a new one when they
	// have something to send.
	IdleTimeout time.Duration
	Logger      zerolog.Logger
	// Registerer receives the collector's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Collector receives HEP over UDP and TCP and feeds the SIP it carries to
// a dialog tracker.
type Collector struct {
	cfg   Config
	log   zerolog.Logger
	udp   []guarded[net.PacketConn]
	tcp   []guarded[net.Listener]
	queue chan item
	m     metrics
	conns *connTable
	// batchMax bounds the packets of one batch, so that a queue that
	// never empties (a sender faster than the tracker) cannot hold
	// finished activities back.
	batchMax int
	// bufs are packet buffers handed back by the tracker: the tracker
	// keeps nothing of a payload once it is parsed, so the readers reuse
	// them instead of making one per packet. A channel rather than a
	// sync.Pool, which would take an allocation per buffer put back.
	bufs chan []byte
}

// batchMax is Collector.batchMax's value.
const batchMax = 1024

type item struct {
	b []byte
	t string // transport
}

// guarded is a listener with the sources it takes packets from.
type guarded[T any] struct {
	l     T
	guard netallow.Guard
}

// New opens every configured listener; Run serves them. When one cannot
// be opened the others are closed again and the error names the address.
func New(cfg Config) (*Collector, error) {
	if len(cfg.UDP)+len(cfg.TCP) == 0 {
		return nil, errors.New("hep: no listen address (udp or tcp)")
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 8192
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 256
	}
	if cfg.MaxConnsPerSource <= 0 {
		cfg.MaxConnsPerSource = 8
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = time.Minute
	}
	c := &Collector{
		cfg:      cfg,
		log:      cfg.Logger.With().Str("component", "hep").Logger(),
		queue:    make(chan item, cfg.Queue),
		bufs:     make(chan []byte, keptBuffers),
		m:        newMetrics(cfg.Registerer),
		batchMax: batchMax,
	}
	c.conns = newConnTable(cfg.MaxConns, cfg.MaxConnsPerSource, c.m)
	var guards []netallow.Guard
	for _, a := range append(append([]string{}, cfg.UDP...), cfg.TCP...) {
		g, err := netallow.NewGuard(a, cfg.AllowedSources)
		if err != nil {
			return nil, fmt.Errorf("hep: %w", err)
		}
		guards = append(guards, g)
	}
	for i, a := range cfg.UDP {
		pc, err := net.ListenPacket("udp", a)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("hep: listen udp %s: %w", a, err)
		}
		if uc, ok := pc.(*net.UDPConn); ok {
			_ = uc.SetReadBuffer(4 << 20) // absorb bursts; best effort
		}
		c.udp = append(c.udp, guarded[net.PacketConn]{pc, guards[i]})
	}
	for i, a := range cfg.TCP {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("hep: listen tcp %s: %w", a, err)
		}
		c.tcp = append(c.tcp, guarded[net.Listener]{ln, guards[len(cfg.UDP)+i]})
	}
	return c, nil
}

// Close closes the listeners of a collector that will not Run (a start
// that failed after New); Run closes them itself.
func (c *Collector) Close() error {
	var errs []error
	for _, u := range c.udp {
		errs = append(errs, u.l.Close())
	}
	for _, l := range c.tcp {
		errs = append(errs, l.l.Close())
	}
	return errors.Join(errs...)
}

// UDPAddrs and TCPAddrs report the bound addresses, in configuration order.
func (c *Collector) UDPAddrs() []net.Addr {
	var as []net.Addr
	for _, u := range c.udp {
		as = append(as, u.l.LocalAddr())
	}
	return as
}

// TCPAddrs reports the bound TCP addresses.
func (c *Collector) TCPAddrs() []net.Addr {
	var as []net.Addr
	for _, l := range c.tcp {
		as = append(as, l.l.Addr())
	}
	return as
}

// UDPAddr and TCPAddr report the first bound address of each transport
// (nil when there is none).
func (c *Collector) UDPAddr() net.Addr {
	if len(c.udp) == 0 {
		return nil
	}
	return c.udp[0].l.LocalAddr()
}

// TCPAddr reports the first bound TCP address.
func (c *Collector) TCPAddr() net.Addr {
	if len(c.tcp) == 0 {
		return nil
	}
	return c.tcp[0].l.Addr()
}

// Run serves until ctx ends, passing the tracker's events to out from a
// single goroutine, in arrival order. Bad packets are counted and logged
// at debug level, never fatal. It closes the listeners on return. It
// returns an error only when the PBX's address was not configured and the
// traffic cannot tell it (dialog.ErrUnknownPBX).
func (c *Collector) Run(ctx context.Context, out func(bridge.Event)) error {
	return c.run(ctx, out, nil)
}

// RunBatches is Run that also calls ready, on Run's goroutine, when the
// events it handed on since the last call are all that the packets
// already received gave (pipeline.BatchSource): when the queue from the
// listeners is empty, and the next packet may have to be waited for, or
// after a timeout's events. The pipeline keeps a batch's events with one
// write. A lone packet is a batch of its own; nothing waits on a timer.
func (c *Collector) RunBatches(ctx context.Context, out func(bridge.Event), ready func()) error {
	return c.run(ctx, out, ready)
}

// run is Run, with batches told to ready unless it is nil.
func (c *Collector) run(ctx context.Context, out func(bridge.Event), ready func()) error {
	var wg sync.WaitGroup
	readCtx, stop := context.WithCancel(ctx)
	defer stop()
	for _, u := range c.udp {
		wg.Add(1)
		go func() { defer wg.Done(); c.readUDP(readCtx, u) }()
	}
	for _, l := range c.tcp {
		wg.Add(1)
		go func() { defer wg.Done(); c.acceptTCP(readCtx, l, &wg) }()
	}
	go func() {
		<-readCtx.Done()
		c.Close()
		c.conns.closeAll()
	}()
	if len(c.cfg.Dialog.PBX) == 0 {
		c.log.Info().Msg("sip.pbx_addresses not set: learning the PBX from the traffic")
	}
	err := c.track(readCtx, out, ready)
	stop()
	wg.Wait()
	return err
}

// track is the single consumer: decode, track, emit; with ready, end a
// batch whenever the queue is found empty (all the readers had received
// is handed on) or batchMax packets went by, if it holds any event.
func (c *Collector) track(ctx context.Context, out func(bridge.Event), ready func()) error {
	open := false // events were handed on since the last ready
	packets := 0  // packets handled since then
	if ready != nil {
		next := out
		out = func(ev bridge.Event) { open = true; next(ev) }
	}
	end := func() {
		if open {
			ready()
		}
		open, packets = false, 0
	}
	f := c.feeder(out)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			f.Expire()
			end()
		case it := <-c.queue:
			err := f.Packet(it.b, it.t)
			c.release(it.b)
			if err != nil {
				c.log.Error().Err(err).Msg("SIP source stopped")
				return err
			}
			if packets++; len(c.queue) == 0 || packets >= c.batchMax {
				end()
			}
		}
	}
}

// Feeder turns HEP packets into tracker events the way a Collector does,
// without the network: Collector.Run feeds one from its listeners, and
// tests and tools can feed one directly. Its clock is the tracker's, the
// capture times of the packets: a silent network is timed by adding the
// time elapsed since the last packet to that packet's capture time, so no
// event ever carries the local clock. A Feeder is not safe for concurrent
// use.
type Feeder struct {
	c        *Collector
	tr       *dialog.Tracker
	out      func(bridge.Event)
	last     time.Time // tracker clock after the last packet
	lastSeen time.Time // when (monotonic) that packet came
	// transport and packets are the packet counter of the last packet's
	// transport: finding a labelled counter costs more than counting.
	transport string
	packets   prometheus.Counter
}

// NewFeeder returns a Feeder with cfg's auth key, tracker configuration,
// logger and metrics (cfg's listen addresses are not used).
func NewFeeder(cfg Config, out func(bridge.Event)) *Feeder {
	c := &Collector{cfg: cfg, log: cfg.Logger.With().Str("component", "hep").Logger(), m: newMetrics(cfg.Registerer)}
	return c.feeder(out)
}

func (c *Collector) feeder(out func(bridge.Event)) *Feeder {
	emit := func(ev bridge.Event) {
		c.m.events.Inc()
		out(ev)
	}
	return &Feeder{c: c, tr: dialog.New(c.cfg.Dialog), out: emit}
}

// Packet handles one HEP packet received over transport ("udp", "tcp").
// Bad packets are counted and skipped; the error is the tracker's fatal
// one (dialog.ErrUnknownPBX).
func (f *Feeder) Packet(b []byte, transport string) error {
	c := f.c
	if f.packets == nil || transport != f.transport {
		f.transport, f.packets = transport, c.m.packets.WithLabelValues(transport)
	}
	f.packets.Inc()
	p, err := Decode(b)
	if err != nil {
		c.m.malformed.WithLabelValues("hep").Inc()
		c.log.Debug().Err(err).Str("transport", transport).Msg("malformed HEP packet")
		return nil
	}
	if c.cfg.AuthKey != "" && subtle.ConstantTimeCompare([]byte(p.AuthKey), []byte(c.cfg.AuthKey)) != 1 {
		c.m.malformed.WithLabelValues("auth").Inc()
		c.log.Debug().Uint32("capture_id", p.CaptureID).Msg("HEP packet with a wrong auth key")
		return nil
	}
	if p.ProtoType != ProtoSIP {
		return nil
	}
	m := dialog.Message{Time: p.Time, Src: p.Src, Dst: p.Dst, Transport: "udp", CorrelationID: p.CorrelationID, Payload: p.Payload}
	if p.IPProto == 6 {
		m.Transport = "tcp"
	}
	err = f.tr.Feed(m, f.out)
	switch {
	case errors.Is(err, dialog.ErrUnknownPBX):
		return err
	case errors.Is(err, dialog.ErrTime):
		c.m.malformed.WithLabelValues("time").Inc()
		c.log.Debug().Err(err).Msg("HEP packet without a usable timestamp")
	case err != nil:
		c.m.malformed.WithLabelValues("sip").Inc()
		c.log.Debug().Err(err).Msg("HEP payload is not a SIP message")
	}
	if now := f.tr.Now(); !now.Equal(f.last) {
		f.last, f.lastSeen = now, time.Now()
	}
	c.m.live.Set(float64(f.tr.Stats().Live))
	return nil
}

// Expire ends dialogs that timed out while the network was silent.
func (f *Feeder) Expire() {
	if f.last.IsZero() {
		return
	}
	f.tr.Expire(f.last.Add(time.Since(f.lastSeen)), f.out)
	f.c.m.live.Set(float64(f.tr.Stats().Live))
}

// Flush ends every open dialog as of the tracker's clock (the end of a
// replay); see dialog.Tracker.Flush.
func (f *Feeder) Flush() error { return f.tr.Flush(f.tr.Now(), f.out) }

// MalformedCounter is the malformed-packets counter of kind (hep, sip,
// time, auth).
func (f *Feeder) MalformedCounter(kind string) prometheus.Counter {
	return f.c.m.malformed.WithLabelValues(kind)
}

// Stats is the tracker's.
func (f *Feeder) Stats() dialog.Stats { return f.tr.Stats() }

func (c *Collector) enqueue(b []byte, transport string) {
	select {
	case c.queue <- item{b, transport}:
	default:
		c.m.dropped.Inc()
		c.release(b)
	}
}

// keptBuffers bounds the buffers kept for reuse.
const keptBuffers = 256

// buffer returns a buffer of n bytes for a packet, a reused one if the
// pool has one large enough. New ones are made to measure: when the
// tracker falls behind, the queue holds them all at once.
func (c *Collector) buffer(n int) []byte {
	select {
	case b := <-c.bufs:
		if cap(b) >= n {
			return b[:n]
		}
	default:
	}
	return make([]byte, n)
}

// release hands b back for reuse once the tracker is done with it.
func (c *Collector) release(b []byte) {
	select {
	case c.bufs <- b:
	default: // enough kept: this one is left to the garbage collector
	}
}

func (c *Collector) readUDP(ctx context.Context, u guarded[net.PacketConn]) {
	buf := make([]byte, MaxPacket)
	for {
		n, from, err := u.l.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Warn().Err(err).Msg("HEP udp read")
			continue
		}
		if !u.guard.Allows(from) {
			c.refuse("udp", from)
			continue
		}
		b := c.buffer(n)
		copy(b, buf[:n])
		c.enqueue(b, "udp")
	}
}

// refuse counts and drops what came from a source the listener does not
// take packets from.
func (c *Collector) refuse(transport string, from net.Addr) {
	c.m.refused.WithLabelValues(transport).Inc()
	c.log.Debug().Str("transport", transport).Str("peer", from.String()).Msg("HEP from a source not in sip.hep_allowed_sources dropped")
}

// RefusedCounter counts packets (udp) and connections (tcp) refused for
// coming from a source not allowed.
func (c *Collector) RefusedCounter(transport string) prometheus.Counter {
	return c.m.refused.WithLabelValues(transport)
}

// MalformedCounter and PacketsCounter expose the counters, for tests and
// status pages.
func (c *Collector) MalformedCounter(kind string) prometheus.Counter {
	return c.m.malformed.WithLabelValues(kind)
}

// PacketsCounter is the received-packets counter of a transport.
func (c *Collector) PacketsCounter(transport string) prometheus.Counter {
	return c.m.packets.WithLabelValues(transport)
}

// ClosedCounter counts TCP connections the collector closed for reason
// (idle, framing, source_limit, limit).
func (c *Collector) ClosedCounter(reason string) prometheus.Counter {
	return c.m.closed.WithLabelValues(reason)
}

// OpenTCP is how many TCP connections are open now.
func (c *Collector) OpenTCP() int { return c.conns.count() }

// DroppedCounter counts packets dropped because the queue was full.
func (c *Collector) DroppedCounter() prometheus.Counter { return c.m.dropped }
