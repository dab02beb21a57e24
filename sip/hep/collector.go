package hep

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/sip/dialog"
)

// Config configures a Collector.
type Config struct {
	// UDP and TCP are listen addresses ("127.0.0.1:9060"); empty turns
	// that transport off. At least one is required.
	UDP, TCP string
	// AuthKey, when set, is the password capture agents must send (HEP
	// chunk 0x000e); packets without it are counted and dropped.
	AuthKey string
	// Dialog configures the SIP dialog tracker.
	Dialog dialog.Config
	// Queue bounds the packets waiting for the tracker (default 8192).
	// When it is full new packets are dropped and counted: the network
	// readers never block, so a slow consumer cannot stall the socket
	// buffers into silent kernel drops.
	Queue int
	// MaxConns bounds concurrent TCP capture agents (default 64).
	MaxConns int
	// IdleTimeout closes TCP connections silent for this long (default
	// 5 min; agents send keepalives).
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
	udp   net.PacketConn
	tcp   net.Listener
	queue chan item
	m     metrics
	conns chan struct{}
}

type item struct {
	b []byte
	t string // transport
}

type metrics struct {
	packets   *prometheus.CounterVec
	malformed *prometheus.CounterVec
	dropped   prometheus.Counter
	live      prometheus.Gauge
	events    prometheus.Counter
}

func newMetrics(r prometheus.Registerer) metrics {
	m := metrics{
		packets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_sip_hep_packets_total", Help: "HEP packets received, by transport.",
		}, []string{"transport"}),
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_sip_hep_malformed_total", Help: "Packets dropped as malformed, by what was wrong: hep, sip, auth, frame.",
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
	}
	if r != nil {
		r.MustRegister(m.packets, m.malformed, m.dropped, m.live, m.events)
	}
	return m
}

// New opens the listeners; Run serves them.
func New(cfg Config) (*Collector, error) {
	if cfg.UDP == "" && cfg.TCP == "" {
		return nil, errors.New("hep: no listen address (udp or tcp)")
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 8192
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 64
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	c := &Collector{
		cfg:   cfg,
		log:   cfg.Logger.With().Str("component", "hep").Logger(),
		queue: make(chan item, cfg.Queue),
		m:     newMetrics(cfg.Registerer),
		conns: make(chan struct{}, cfg.MaxConns),
	}
	var err error
	if cfg.UDP != "" {
		if c.udp, err = net.ListenPacket("udp", cfg.UDP); err != nil {
			return nil, fmt.Errorf("hep: listen udp: %w", err)
		}
		if uc, ok := c.udp.(*net.UDPConn); ok {
			_ = uc.SetReadBuffer(4 << 20) // absorb bursts; best effort
		}
	}
	if cfg.TCP != "" {
		if c.tcp, err = net.Listen("tcp", cfg.TCP); err != nil {
			if c.udp != nil {
				c.udp.Close()
			}
			return nil, fmt.Errorf("hep: listen tcp: %w", err)
		}
	}
	return c, nil
}

// UDPAddr and TCPAddr report the bound addresses (nil when off).
func (c *Collector) UDPAddr() net.Addr {
	if c.udp == nil {
		return nil
	}
	return c.udp.LocalAddr()
}

// TCPAddr reports the bound TCP address (nil when off).
func (c *Collector) TCPAddr() net.Addr {
	if c.tcp == nil {
		return nil
	}
	return c.tcp.Addr()
}

// Run serves until ctx ends, passing the tracker's events to out from a
// single goroutine, in arrival order. Bad packets are counted and logged
// (rate-limited by level), never fatal. It closes the listeners on return.
func (c *Collector) Run(ctx context.Context, out func(bridge.Event)) error {
	var wg sync.WaitGroup
	readCtx, stop := context.WithCancel(ctx)
	defer stop()
	if c.udp != nil {
		wg.Add(1)
		go func() { defer wg.Done(); c.readUDP(readCtx) }()
	}
	if c.tcp != nil {
		wg.Add(1)
		go func() { defer wg.Done(); c.acceptTCP(readCtx, &wg) }()
	}
	go func() {
		<-readCtx.Done()
		if c.udp != nil {
			c.udp.Close()
		}
		if c.tcp != nil {
			c.tcp.Close()
		}
	}()
	c.track(readCtx, out)
	stop()
	wg.Wait()
	return nil
}

// track is the single consumer: decode, track, emit.
func (c *Collector) track(ctx context.Context, out func(bridge.Event)) {
	tr := dialog.New(c.cfg.Dialog)
	emit := func(ev bridge.Event) {
		c.m.events.Inc()
		out(ev)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			tr.Expire(now.UTC(), emit)
			c.m.live.Set(float64(tr.Stats().Live))
		case it := <-c.queue:
			c.handle(tr, it, emit)
		}
	}
}

func (c *Collector) handle(tr *dialog.Tracker, it item, emit func(bridge.Event)) {
	c.m.packets.WithLabelValues(it.t).Inc()
	p, err := Decode(it.b)
	if err != nil {
		c.m.malformed.WithLabelValues("hep").Inc()
		c.log.Debug().Err(err).Str("transport", it.t).Msg("malformed HEP packet")
		return
	}
	if c.cfg.AuthKey != "" && subtle.ConstantTimeCompare([]byte(p.AuthKey), []byte(c.cfg.AuthKey)) != 1 {
		c.m.malformed.WithLabelValues("auth").Inc()
		c.log.Debug().Uint32("capture_id", p.CaptureID).Msg("HEP packet with a wrong auth key")
		return
	}
	if p.ProtoType != ProtoSIP {
		return
	}
	m := dialog.Message{Time: p.Time, Src: p.Src, Dst: p.Dst, Transport: "udp", CorrelationID: p.CorrelationID, Payload: p.Payload}
	if p.IPProto == 6 {
		m.Transport = "tcp"
	}
	if err := tr.Feed(m, emit); err != nil {
		c.m.malformed.WithLabelValues("sip").Inc()
		c.log.Debug().Err(err).Msg("HEP payload is not a SIP message")
	}
}

func (c *Collector) enqueue(b []byte, transport string) {
	select {
	case c.queue <- item{b, transport}:
	default:
		c.m.dropped.Inc()
	}
}

func (c *Collector) readUDP(ctx context.Context) {
	buf := make([]byte, MaxPacket)
	for {
		n, _, err := c.udp.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Warn().Err(err).Msg("HEP udp read")
			continue
		}
		c.enqueue(append([]byte(nil), buf[:n]...), "udp")
	}
}

func (c *Collector) acceptTCP(ctx context.Context, wg *sync.WaitGroup) {
	var mu sync.Mutex
	open := map[net.Conn]struct{}{}
	defer func() {
		mu.Lock()
		for conn := range open {
			conn.Close()
		}
		mu.Unlock()
	}()
	for {
		conn, err := c.tcp.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Warn().Err(err).Msg("HEP tcp accept")
			time.Sleep(50 * time.Millisecond)
			continue
		}
		select {
		case c.conns <- struct{}{}:
		default:
			c.log.Warn().Str("peer", conn.RemoteAddr().String()).Msg("HEP tcp: too many connections")
			conn.Close()
			continue
		}
		mu.Lock()
		open[conn] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-c.conns }()
			c.readTCP(conn)
			mu.Lock()
			delete(open, conn)
			mu.Unlock()
			conn.Close()
		}()
	}
}

// readTCP reads HEP3 packets framed by their own length field. A bad
// frame loses the framing, so the connection is closed; the agent
// reconnects.
func (c *Collector) readTCP(conn net.Conn) {
	r := bufio.NewReaderSize(conn, 64<<10)
	hdr := make([]byte, 6)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(c.cfg.IdleTimeout))
		if _, err := io.ReadFull(r, hdr); err != nil {
			return
		}
		if string(hdr[:4]) != "HEP3" {
			c.m.malformed.WithLabelValues("frame").Inc()
			c.log.Debug().Str("peer", conn.RemoteAddr().String()).Msg("HEP tcp: lost framing, closing")
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[4:]))
		if n < 6 {
			c.m.malformed.WithLabelValues("frame").Inc()
			return
		}
		b := make([]byte, n)
		copy(b, hdr)
		if _, err := io.ReadFull(r, b[6:]); err != nil {
			return
		}
		c.enqueue(b, "tcp")
	}
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
