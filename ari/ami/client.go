package ami

import (
	"context"
	"crypto/md5" //nolint:gosec // AMI's challenge login is defined with MD5
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/staskobzar/goami2"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/reconnect"
)

// ErrLogin is returned (wrapped) when Asterisk refuses the credentials.
var ErrLogin = errors.New("ami: login refused")

// Config says how to reach and log in to Asterisk's manager interface.
type Config struct {
	Host string
	Port int // 5038 when zero
	// Username and Secret are a manager.conf user. The secret is never
	// logged nor put in an error.
	Username string
	Secret   string
	// MD5 logs in with a challenge (Action: Challenge, then Key) so the
	// secret never crosses the network, even without TLS.
	MD5 bool
	// TLS dials with TLS (manager.conf tlsenable, port 5039 by default).
	TLS bool
	// TLSConfig overrides the TLS settings; nil means the system roots and
	// Host as the server name.
	TLSConfig *tls.Config
	Logger    zerolog.Logger

	// Tuning; zero means the default in parentheses.
	DialTimeout  time.Duration // connect and log in (10 s)
	PingInterval time.Duration // keepalive; two without any traffic back end the connection (20 s)
	MinBackoff   time.Duration // first wait before reconnecting (500 ms)
	MaxBackoff   time.Duration // longest wait between attempts (30 s)
}

// MarshalZerologObject logs a Config without its secret.
func (c Config) MarshalZerologObject(e *zerolog.Event) {
	e.Str("host", c.Host).Int("port", c.Port).Str("username", c.Username).
		Bool("md5", c.MD5).Bool("tls", c.TLS)
}

func (c *Config) withDefaults() {
	if c.Port == 0 {
		c.Port = 5038
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = 20 * time.Second
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = 500 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.Host == "" {
		errs = append(errs, errors.New("ami: host: required"))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("ami: port: %d out of range", c.Port))
	}
	if c.Username == "" {
		errs = append(errs, errors.New("ami: username: required"))
	}
	// A line break would end the header and let the value inject its own.
	if strings.ContainsAny(c.Username, "\r\n") {
		errs = append(errs, errors.New("ami: username: must not contain a line break"))
	}
	if strings.ContainsAny(c.Secret, "\r\n") {
		errs = append(errs, errors.New("ami: secret: must not contain a line break"))
	}
	return errors.Join(errs...)
}

// Client is the live AMI source. It owns its connection: dialling, login,
// keepalive, reconnecting with exponential backoff, and after every connect
// a resync of the live channels (CoreShowChannels) handed to the engine as
// one bridge.Snapshot event.
type Client struct {
	cfg  Config
	addr string
	log  zerolog.Logger
	m    *metrics

	// lastEvent is the time of the newest event delivered: after a gap it
	// is the last moment the delivered channels were known alive.
	lastEvent time.Time

	// connect opens the connection: dial, or a benchmark's in-memory one.
	connect func(ctx context.Context) (net.Conn, error)
	// state is the connection's, for readiness (Status).
	state reconnect.State
}

// New checks cfg and returns a client; its counters are registered on reg
// (nil: not registered).
func New(cfg Config, reg prometheus.Registerer) (*Client, error) {
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("ami: metrics: %w", err)
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	c := &Client{cfg: cfg, addr: addr, m: m, log: cfg.Logger.With().Str("addr", addr).Logger()}
	c.connect = c.dial
	return c, nil
}

// Run connects and feeds every event to out, in the order Asterisk sent
// them, until ctx is done; then it returns nil. Connection and login
// failures are logged and retried with backoff. out is called from Run's
// goroutine only.
func (c *Client) Run(ctx context.Context, out func(bridge.Event)) error {
	return c.run(ctx, out, nil)
}

// RunBatches is Run that also calls ready, on Run's goroutine, whenever it
// has handed on every event read so far and is about to wait for more
// from the connection (pipeline.BatchSource): the events between two
// calls came in one read, and the pipeline keeps them with one write. A lone event is a batch of its own; nothing waits for more.
func (c *Client) RunBatches(ctx context.Context, out func(bridge.Event), ready func()) error {
	return c.run(ctx, out, ready)
}

// run is Run, with batches told to ready unless it is nil.
func (c *Client) run(ctx context.Context, out func(bridge.Event), ready func()) error {
	return reconnect.Loop(ctx, reconnect.Policy{
		Min: c.cfg.MinBackoff,
		Max: c.cfg.MaxBackoff,
		Retrying: func(err error, attempt int, wait time.Duration) {
			c.m.reconnects.Inc()
			c.log.Warn().Err(err).Int("attempt", attempt).Dur("retry_in", wait).Msg("ami source down, retrying")
		},
	}, func(ctx context.Context) (bool, error) {
		synced, err := c.session(ctx, out, ready)
		if ready != nil {
			ready() // what the connection brought before it ended
		}
		c.state.Down(err)
		return synced, err
	})
}

// Action ids this client uses; responses are matched on them.
const (
	idChallenge = "callbridge-challenge"
	idLogin     = "callbridge-login"
	idSync      = "callbridge-sync"
	idSyncPing  = "callbridge-sync-ping"
	idPing      = "callbridge-ping"
)

// session runs one connection. synced reports whether it got as far as a
// completed resync, which is what resets the backoff. ready, unless nil, is
// called after the events of each read.
//
// The messages are read, framed, parsed and mapped on the caller's
// goroutine, as ARI's are: a reading goroutine handing each message over
// cost its channel's locks and wake-ups for every event, more than
// mapping it. The keepalive runs beside it; it is the only writer once
// the resync is asked for.
func (c *Client) session(ctx context.Context, out func(bridge.Event), ready func()) (synced bool, err error) {
	conn, err := c.connect(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	// Closing the connection is what unblocks reads when ctx ends.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	rd := NewReader(conn)
	if err := c.login(conn, rd); err != nil {
		return false, err
	}
	c.log.Info().Str("banner", rd.Banner()).Msg("ami logged in")

	// Asterisk's clock first: its Ping response carries a Timestamp, and
	// the list's Durations are read against it, not against ours (the
	// hosts' clocks may differ). Asterisk answers actions in order, so it
	// comes just before the list.
	if err := c.send(conn, action("Ping", idSyncPing)); err != nil {
		return false, err
	}
	if err := c.send(conn, action("CoreShowChannels", idSync)); err != nil {
		return false, err
	}

	var lastRx atomic.Int64 // when the last message passed on came, Unix ns
	lastRx.Store(time.Now().UnixNano())
	gone := make(chan error, 1) // why the keepalive closed the connection
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.keepalive(conn, &lastRx, gone, quit)
	}()
	defer func() {
		close(quit)
		wg.Wait()
	}()

	var (
		collecting = true
		skew       time.Duration // Asterisk's clock less ours
		snap       []bridge.Channel
		held       []bridge.Event // events that arrived while the list was being collected
		buf        headers        // the headers of the message at hand, reused
		sent       bool           // a message was passed on since ready was last called
	)
	if ready != nil {
		rd.Idle = func() {
			if sent {
				sent = false
				ready()
			}
		}
	}
	deliver := func(ev bridge.Event) {
		c.m.events.Inc()
		c.lastEvent = ev.Time
		out(ev)
	}
	for {
		pkt, err := rd.ReadPacket()
		if errors.Is(err, ErrMalformed) {
			c.m.malformed.Inc()
			c.log.Warn().Err(err).Msg("ami message dropped")
			continue
		}
		if err != nil {
			select {
			case err := <-gone:
				return synced, err
			default:
			}
			switch {
			case ctx.Err() != nil:
				return synced, ctx.Err()
			case errors.Is(err, io.EOF):
				return synced, errors.New("ami: connection closed by peer")
			}
			return synced, fmt.Errorf("ami: read: %w", err)
		}
		if !wanted(pkt) {
			continue
		}
		// The clock only for what is passed on: most messages are not.
		at := time.Now()
		lastRx.Store(at.UnixNano())
		var m headers
		m, buf, err = parseReuse(pkt, buf)
		if err != nil {
			c.m.malformed.Inc()
			c.log.Warn().Err(err).Msg("ami message dropped")
			continue
		}
		sent = true
		switch name := m.field("Event"); {
		case name == "":
			if m.field("ActionID") == idSyncPing {
				if t, err := parseTimestamp(m.field("Timestamp")); err == nil && m.field("Timestamp") != "" {
					skew = t.Sub(at)
				}
			}
			if m.field("ActionID") == idSync && !strings.EqualFold(m.field("Response"), "success") {
				return synced, fmt.Errorf("ami: CoreShowChannels refused: %q (the manager user needs read and write \"reporting\")", m.field("Message"))
			}
		case name == evCoreShowChannel:
			if collecting && m.field("ActionID") == idSync {
				snap = append(snap, snapshotChannel(m, at.Add(skew)))
			}
		case name == evCoreShowChannelsComplete:
			if !collecting || m.field("ActionID") != idSync {
				continue
			}
			collecting, synced = false, true
			deliver(c.snapshot(snap, at.Add(skew)))
			c.log.Info().Int("channels", len(snap)).Msg("ami resynced")
			c.state.Up()
			for _, ev := range held {
				deliver(ev)
			}
			snap, held = nil, nil
		default:
			ev, ok, err := mapHeaders(m, at)
			switch {
			case err != nil:
				c.m.malformed.Inc()
				c.log.Warn().Err(err).Msg("ami event dropped")
			case !ok:
			case collecting:
				held = append(held, ev)
			default:
				deliver(ev)
			}
		}
	}
}

// keepalive pings every PingInterval until quit, and closes conn, saying
// why on gone, when two intervals passed with nothing received (lastRx)
// or a ping cannot be sent.
func (c *Client) keepalive(conn net.Conn, lastRx *atomic.Int64, gone chan<- error, quit <-chan struct{}) {
	ping := time.NewTicker(c.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-quit:
			return
		case <-ping.C:
		}
		var err error
		if quiet := time.Since(time.Unix(0, lastRx.Load())); quiet > 2*c.cfg.PingInterval {
			err = fmt.Errorf("ami: nothing received for %s", quiet.Round(time.Second))
		} else {
			err = c.send(conn, action("Ping", idPing))
		}
		if err != nil {
			gone <- err
			conn.Close()
			return
		}
	}
}

// snapshot builds the resync event; see snapshotEvent.
func (c *Client) snapshot(chans []bridge.Channel, now time.Time) bridge.Event {
	return snapshotEvent(chans, c.lastEvent, now)
}

// snapshotEvent builds the resync event of a CoreShowChannels list taken
// at now (the PBX's clock). Its time is the last moment the engine's
// channels were known alive: lastEvent, the newest event before the gap,
// or, on a first connect, the newest channel creation, or else now.
func snapshotEvent(chans []bridge.Channel, lastEvent, now time.Time) bridge.Event {
	at := lastEvent
	if at.IsZero() {
		for _, ch := range chans {
			if ch.Created.After(at) {
				at = ch.Created
			}
		}
	}
	if at.IsZero() {
		at = now
	}
	if chans == nil {
		chans = []bridge.Channel{}
	}
	// The list's own clock is the one its Durations were read against.
	return bridge.Event{Kind: bridge.Snapshot, Time: at, Channels: chans, Listed: now}
}

// snapshotChannel reads one CoreShowChannel entry. Asterisk gives no
// creation time, only the age as Duration (HH:MM:SS), so Created is the
// time of the listing (Asterisk's clock, as its Ping gave it, else the
// receipt) less that, to the second; and no bridge times at all (the
// snapshot's Listed bounds those). Application tells a dialled channel
// (AppDial) from a calling one, and a conference member (ConfBridge,
// MeetMe).
func snapshotChannel(m headers, received time.Time) bridge.Channel {
	ch := readChannel(m, pfxNone)
	ch.Bridge = m.field("BridgeId")
	if d, ok := parseDuration(m.field("Duration")); ok {
		ch.Created = received.Add(-d)
	}
	if ch.Bridge != "" {
		ch.Conference = ch.App == "ConfBridge" || ch.App == "MeetMe"
	}
	return ch
}

func parseDuration(s string) (time.Duration, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, false
	}
	var d time.Duration
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0, false
		}
		d = d*60 + time.Duration(n)
	}
	return d * time.Second, true
}

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	nd := &net.Dialer{Timeout: c.cfg.DialTimeout, KeepAlive: 30 * time.Second}
	var conn net.Conn
	var err error
	if c.cfg.TLS {
		tc := c.cfg.TLSConfig
		if tc == nil {
			tc = &tls.Config{ServerName: c.cfg.Host, MinVersion: tls.VersionTLS12}
		}
		conn, err = (&tls.Dialer{NetDialer: nd, Config: tc}).DialContext(ctx, "tcp", c.addr)
	} else {
		conn, err = nd.DialContext(ctx, "tcp", c.addr)
	}
	if err != nil {
		return nil, fmt.Errorf("ami: dial: %w", err)
	}
	return conn, nil
}

// login reads the banner and logs in, with the plain secret or by MD5
// challenge, all under DialTimeout.
func (c *Client) login(conn net.Conn, rd *Reader) error {
	_ = conn.SetDeadline(time.Now().Add(c.cfg.DialTimeout))
	defer func() { _ = conn.SetDeadline(time.Time{}) }()
	if _, err := rd.ReadBanner(); err != nil {
		return err
	}
	login := action("Login", idLogin)
	login.AddField("Username", c.cfg.Username)
	if c.cfg.MD5 {
		ch := action("Challenge", idChallenge)
		ch.AddField("AuthType", "MD5")
		if err := c.send(conn, ch); err != nil {
			return err
		}
		resp, err := response(rd, idChallenge)
		if err != nil {
			return err
		}
		challenge := field(resp, "Challenge")
		if !resp.IsSuccess() || challenge == "" {
			return fmt.Errorf("ami: challenge refused: %q", c.redact(field(resp, "Message")))
		}
		sum := md5.Sum([]byte(challenge + c.cfg.Secret)) //nolint:gosec // the AMI protocol's choice
		login.AddField("AuthType", "MD5")
		login.AddField("Key", hex.EncodeToString(sum[:]))
	} else {
		login.AddField("Secret", c.cfg.Secret)
	}
	login.AddField("Events", "on")
	if err := c.send(conn, login); err != nil {
		return err
	}
	resp, err := response(rd, idLogin)
	if err != nil {
		return err
	}
	if !resp.IsSuccess() {
		c.m.loginFailures.Inc()
		return fmt.Errorf("%w for user %q: %q", ErrLogin, c.cfg.Username, c.redact(field(resp, "Message")))
	}
	return nil
}

// redact keeps the secret out of text that came from the server, should a
// server ever echo it.
func (c *Client) redact(s string) string {
	if c.cfg.Secret == "" {
		return s
	}
	return strings.ReplaceAll(s, c.cfg.Secret, "<secret>")
}

// response reads messages until the response to action id; events that come
// first (there are none before login) are passed over.
func response(rd *Reader, id string) (*goami2.Message, error) {
	for {
		pkt, err := rd.ReadPacket()
		if errors.Is(err, ErrMalformed) {
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("ami: connection closed during login")
			}
			return nil, fmt.Errorf("ami: login: %w", err)
		}
		if eventName(pkt) != nil {
			continue
		}
		m, err := parse(pkt)
		if err != nil {
			continue
		}
		if got := field(m, "ActionID"); got == id || got == "" {
			return m, nil
		}
	}
}

func action(name, id string) *goami2.Message {
	m := goami2.NewAction(name)
	m.AddField("ActionID", id)
	return m
}

func (c *Client) send(conn net.Conn, m *goami2.Message) error {
	_ = conn.SetWriteDeadline(time.Now().Add(c.cfg.DialTimeout))
	if _, err := conn.Write(m.Byte()); err != nil {
		// Name the action only: the message may hold the secret.
		return fmt.Errorf("ami: send %s: %w", field(m, "Action"), err)
	}
	return nil
}
