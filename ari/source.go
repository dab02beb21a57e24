package ari

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/internal/wsclient"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/reconnect"
)

// ErrUnauthorized is returned (wrapped) by Run when Asterisk refuses the
// username or password. Retrying cannot help until the configuration
// changes, and repeated failed logins may get the address blocked.
var ErrUnauthorized = errors.New("ari: Asterisk refused the username or password")

// ErrApplicationReplaced is returned (wrapped) by Run when another client
// registered the same ARI application: Asterisk then sends this source's
// websocket nothing more. Two callbridge instances on one Asterisk need
// an ari.application each; retrying would only take the name back from
// the other and starve it in turn.
var ErrApplicationReplaced = errors.New("ari: another client registered this ARI application; give each callbridge instance its own ari.application")

// Config says how to reach Asterisk's REST Interface.
type Config struct {
	// URL is the ARI base URL (http.conf and ari.conf), e.g.
	// "http://127.0.0.1:8088/ari", which is also the default. It must not
	// carry credentials.
	URL string
	// WebsocketURL is the events websocket. Empty derives it from URL:
	// ws:// (wss:// for https) and "/events".
	WebsocketURL string
	// Application is the ARI application name ("callbridge"). The source
	// subscribes to all events, so no call ever has to enter Stasis.
	Application string
	// Username and Password are an ari.conf user. The password is never
	// logged nor put in an error.
	Username string
	Password string
	Logger   zerolog.Logger

	// Tuning; zero means the default in parentheses.
	RequestTimeout time.Duration // each REST call and the websocket handshake (10 s)
	MinBackoff     time.Duration // first wait before reconnecting (500 ms)
	MaxBackoff     time.Duration // longest wait between attempts (30 s)
}

// DefaultURL is where Asterisk's HTTP server puts ARI out of the box.
const DefaultURL = "http://127.0.0.1:8088/ari"

// maxBody bounds a REST response: thousands of channels fit many times over.
const maxBody = 64 << 20

// MarshalZerologObject logs a Config without its password.
func (c Config) MarshalZerologObject(e *zerolog.Event) {
	e.Str("url", c.URL).Str("app", c.Application).Str("username", c.Username)
}

// String describes a Config without its password, so that printing one by
// mistake leaks nothing.
func (c Config) String() string {
	return fmt.Sprintf("ari.Config{URL: %q, Application: %q, Username: %q, Password: <secret>}", c.URL, c.Application, c.Username)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

func (c *Config) withDefaults() {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	c.URL = strings.TrimSuffix(c.URL, "/")
	if c.Application == "" {
		c.Application = "callbridge"
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 10 * time.Second
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

// validate checks c and derives the websocket URL. Errors name the key and
// never quote a URL that might hold a secret.
func (c *Config) validate() (ws *url.URL, err error) {
	var errs []error
	u, err := url.Parse(c.URL)
	switch {
	case err != nil:
		errs = append(errs, errors.New("ari: url: not a URL"))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, errors.New("ari: url: must be http:// or https://"))
	case u.User != nil:
		errs = append(errs, errors.New("ari: url: must not contain credentials; set username and password"))
	case u.Host == "":
		errs = append(errs, errors.New("ari: url: no host"))
	}
	if c.WebsocketURL != "" {
		ws, err = url.Parse(c.WebsocketURL)
		switch {
		case err != nil:
			errs = append(errs, errors.New("ari: websocket_url: not a URL"))
		case ws.Scheme != "ws" && ws.Scheme != "wss":
			errs = append(errs, errors.New("ari: websocket_url: must be ws:// or wss://"))
		case ws.User != nil:
			errs = append(errs, errors.New("ari: websocket_url: must not contain credentials"))
		}
	} else if u != nil && err == nil {
		w := *u
		w.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
		w.Path = strings.TrimSuffix(u.Path, "/") + "/events"
		ws = &w
	}
	if c.Username == "" {
		errs = append(errs, errors.New("ari: username: required"))
	}
	if c.Password == "" {
		errs = append(errs, errors.New("ari: password: required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	q := ws.Query()
	q.Set("app", c.Application)
	q.Set("subscribeAll", "true")
	ws.RawQuery = q.Encode()
	return ws, nil
}

// Source is the live ARI source. It owns its events websocket: connecting,
// reconnecting with exponential backoff, and after every connect listing the
// live channels and bridges over REST and handing them to the engine as one
// bridge.Snapshot event, so that what happened while it was away is
// reconciled.
//
// It speaks the websocket itself (package wsclient, and the Decoder, which
// gives what ari/v5's event decoder gives) rather than through ari/v5's
// native client, which cannot report a reconnect, silently drops events
// when a subscriber falls 100 behind, and retries refused credentials
// forever. Reading, decoding and out all run on Run's goroutine, one
// message after another, with no hand-off between goroutines.
type Source struct {
	cfg  Config
	ws   *url.URL
	auth string // Authorization header value
	http *http.Client
	log  zerolog.Logger
	m    *sourceMetrics

	// last is the time of the newest event received: after a gap it is the
	// last moment the channels known to the engine were known alive.
	last time.Time
	dec  Decoder
	// state is the connection's, for readiness (Status).
	state reconnect.State
}

// NewSource checks cfg and returns a source; its metrics are registered on
// reg (nil: not registered).
func NewSource(cfg Config, reg prometheus.Registerer) (*Source, error) {
	cfg.withDefaults()
	ws, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	m, err := newSourceMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("ari: metrics: %w", err)
	}
	return &Source{
		cfg:  cfg,
		ws:   ws,
		auth: "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password)),
		http: &http.Client{Timeout: cfg.RequestTimeout, Transport: http.DefaultTransport.(*http.Transport).Clone()},
		log:  cfg.Logger.With().Str("url", cfg.URL).Str("app", cfg.Application).Logger(),
		m:    m,
	}, nil
}

// Run connects and feeds every event to out, in the order Asterisk sent
// them, until ctx is done; then it returns nil. Connection failures are
// logged and retried with backoff; refused credentials end Run with an
// error wrapping ErrUnauthorized. out is called from Run's goroutine only.
func (s *Source) Run(ctx context.Context, out func(bridge.Event)) error {
	return s.RunBatches(ctx, out, func() {})
}

// RunBatches is Run that also calls ready, on Run's goroutine, whenever it
// has handed on every event read so far and is about to wait for more
// (pipeline.BatchSource): the events between two calls came in together,
// and the pipeline keeps them with one write.
func (s *Source) RunBatches(ctx context.Context, out func(bridge.Event), ready func()) error {
	defer s.http.CloseIdleConnections()
	return reconnect.Loop(ctx, reconnect.Policy{
		Min:   s.cfg.MinBackoff,
		Max:   s.cfg.MaxBackoff,
		Fatal: func(err error) bool { return errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrApplicationReplaced) },
		Retrying: func(err error, attempt int, wait time.Duration) {
			s.m.reconnects.Inc()
			s.log.Warn().Err(err).Int("attempt", attempt).Dur("retry_in", wait).Msg("ari source down, retrying")
		},
	}, func(ctx context.Context) (bool, error) {
		synced, err := s.session(ctx, out, ready)
		ready() // what the connection brought before it ended
		s.m.connected.Set(0)
		s.state.Down(err)
		return synced, err
	})
}

// session runs one connection: check the credentials, open the websocket,
// reconcile, then pass events on until the connection or ctx ends. synced
// says the snapshot was delivered.
func (s *Source) session(ctx context.Context, out func(bridge.Event), ready func()) (synced bool, err error) {
	// native.Connect asks for the info too; here it also tells a refused
	// password apart, which the websocket handshake cannot.
	var info ari.AsteriskInfo
	if err := s.get(ctx, "/asterisk/info", &info); err != nil {
		return false, err
	}
	ws, err := s.dial(ctx)
	if err != nil {
		return false, err
	}
	defer ws.Close()
	// Closing the connection is what ends a read when ctx ends.
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()

	snap, err := s.reconcile(ctx, ws)
	if err != nil {
		return false, err
	}
	s.log.Info().Str("asterisk", info.SystemInfo.Version).Int("channels", len(snap.Channels)).Msg("ari source connected")
	s.m.connected.Set(1)
	s.state.Up()
	out(snap)
	ws.Idle = ready
	if err := s.pump(ws, out); err != nil && ctx.Err() == nil {
		return true, err
	}
	return true, nil
}

// maxBacklog bounds the events held while the channels are listed: at
// 10,000 events a second that is many seconds' worth.
const maxBacklog = 64 << 20

// reconcile lists the channels and bridges over REST while it keeps
// reading the websocket, so that Asterisk never waits on us (it drops a
// client it cannot write to) and the events of the meantime follow the
// snapshot, in order, unread until then. One goroutine makes the REST
// calls; it interrupts the read with a deadline when it is done.
func (s *Source) reconcile(ctx context.Context, ws *wsclient.Conn) (bridge.Event, error) {
	type result struct {
		ev  bridge.Event
		err error
	}
	done := make(chan result, 1)
	last := s.last
	go func() {
		ev, err := s.snapshot(ctx, last)
		_ = ws.SetReadDeadline(time.Unix(1, 0))
		done <- result{ev, err}
	}()
	var readErr error
	for readErr == nil {
		switch err := ws.Fill(maxBacklog); {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, wsclient.ErrBacklogFull):
			// Listed (the deadline is the listing's signal), or holding
			// all we may: wait for the listing.
			r := <-done
			_ = ws.SetReadDeadline(time.Time{})
			if r.err == nil {
				s.last = r.ev.Time
			}
			return r.ev, r.err
		default:
			readErr = err
		}
	}
	// The connection ended while the channels were being listed. What was
	// read before that still happened: when the listing came through,
	// hand it on with those events (pump reads them before it meets the
	// end of the connection), as a client reading the socket after the
	// listing would have.
	r := <-done // the REST calls end with ctx or their timeout
	if r.err != nil {
		return bridge.Event{}, fmt.Errorf("ari: events websocket: %w", readErr)
	}
	s.last = r.ev.Time
	return r.ev, nil
}

func (s *Source) dial(ctx context.Context) (*wsclient.Conn, error) {
	h := http.Header{}
	h.Set("Authorization", s.auth)
	// As golang.org/x/net/websocket sends it (and ari/v5's client with
	// it); proxies and some servers want an Origin.
	h.Set("Origin", "http://localhost/")
	ws, err := wsclient.Dial(ctx, s.ws, wsclient.Options{Header: h, Timeout: s.cfg.RequestTimeout, MaxMessage: maxLine})
	if err != nil {
		// The error names the websocket URL, which holds no secret: the
		// credentials travel in a header.
		return nil, fmt.Errorf("ari: events websocket %s: %w", s.ws.Redacted(), err)
	}
	return ws, nil
}

// pump passes every message on, in order, until the connection fails. The
// daemon's whole event path runs in it: read (out of one reused buffer,
// every message a read brought in without another system call), decode,
// and out. An over-long message is passed on empty, so that it is counted
// as malformed without ending the connection.
func (s *Source) pump(ws *wsclient.Conn, out func(bridge.Event)) error {
	for {
		msg, err := ws.Next()
		switch {
		case errors.Is(err, wsclient.ErrTooLarge):
			msg = nil
		case err != nil:
			return fmt.Errorf("ari: events websocket: %w", err)
		}
		// One glance at the leading keys serves both the check for a
		// takeover and the decoder.
		g := glance(msg)
		if replaced(msg, &g) {
			s.log.Error().Msg("ARI application taken over by another client: give each callbridge instance its own ari.application")
			return fmt.Errorf("%w (application %q)", ErrApplicationReplaced, s.cfg.Application)
		}
		s.handle(msg, &g, out)
	}
}

var applicationReplaced = []byte("ApplicationReplaced")

// replaced tells an ApplicationReplaced message, given its glance.
func replaced(data []byte, g *glanced) bool {
	t, ok := g.typ, g.has(keyType)
	if !ok {
		t, ok = stringAfter(data, typeKey)
	}
	return ok && bytes.Equal(t, applicationReplaced)
}

// handle maps one message, given its glance, and passes it on.
func (s *Source) handle(data []byte, g *glanced, out func(bridge.Event)) {
	s.m.received.Inc()
	ok, at, err := s.dec.decodeGlanced(data, g)
	switch {
	case err != nil:
		s.m.malformed.Inc()
		// The message itself is not logged: it may hold phone numbers.
		s.log.Warn().Err(err).Int("bytes", len(data)).Msg("ari: malformed event dropped")
	case ok:
		s.m.mapped.Inc()
		ev := &s.dec.out
		if !ev.Time.IsZero() {
			s.last = ev.Time
		}
		out(*ev)
	case !at.IsZero():
		// Events the engine does not use still prove the connection was
		// alive at their time.
		s.last = at
	}
}

// snapshot lists the live channels and bridges; last is the newest event
// before.
func (s *Source) snapshot(ctx context.Context, last time.Time) (bridge.Event, error) {
	chans, err := s.getRaw(ctx, "/channels")
	if err != nil {
		return bridge.Event{}, err
	}
	bridges, err := s.getRaw(ctx, "/bridges")
	if err != nil {
		return bridge.Event{}, err
	}
	ev, err := parseSnapshot(chans, bridges, last)
	if err != nil {
		return bridge.Event{}, err
	}
	ev.Listed = s.pbxNow(ctx)
	return ev, nil
}

// pbxNow asks Asterisk for its own time (GET /asterisk/ping, Asterisk 13.25
// and later) just after the listing: the time by which every channel found
// connected was. Zero when Asterisk does not say; the engine then makes do
// with the channels' and bridges' creation times.
func (s *Source) pbxNow(ctx context.Context) time.Time {
	body, err := s.getRaw(ctx, "/asterisk/ping")
	if err == nil {
		var t time.Time
		if t, err = parsePing(body); err == nil {
			return t
		}
	}
	s.log.Debug().Err(err).Msg("ari: no time from /asterisk/ping")
	return time.Time{}
}

// parsePing reads Asterisk's time from the body of GET /asterisk/ping
// ({"asterisk_id": …, "ping": "pong", "timestamp": "2026-11-21T16:09:34.505+0000"}).
func parsePing(body []byte) (time.Time, error) {
	var v struct {
		Timestamp *ari.DateTime `json:"timestamp"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return time.Time{}, fmt.Errorf("ari: GET /asterisk/ping: decode: %w", err)
	}
	if v.Timestamp == nil {
		return time.Time{}, errors.New("ari: GET /asterisk/ping: no timestamp")
	}
	return time.Time(*v.Timestamp).UTC(), nil
}

// restBridge is what parseSnapshot reads of a bridge from GET /bridges;
// ari/v5's BridgeData has no creation time.
type restBridge struct {
	ID           string        `json:"id"`
	Class        string        `json:"bridge_class"`
	Creator      string        `json:"creator"`
	ChannelIDs   []string      `json:"channels"`
	Creationtime *ari.DateTime `json:"creationtime"`
}

// restApp is the application a channel from GET /channels is in, which
// ari/v5's ChannelData drops: AppDial (or AppQueue, AppDial2) marks a
// channel the PBX dialled, which is what tells an adopted call's direction.
type restApp struct {
	ID       string `json:"id"`
	Dialplan *struct {
		AppName string `json:"app_name"`
	} `json:"dialplan"`
}

// parseSnapshot builds the Snapshot event from the bodies of GET /channels
// and GET /bridges. Its time is last, the last event received before the
// gap; on a first connect (last is zero), the newest channel's creation.
// Each channel carries its creation time, its application and, when it is
// in a bridge, the bridge's creation time (Bridged) and kind.
func parseSnapshot(channels, bridges []byte, last time.Time) (bridge.Event, error) {
	var chans []*ari.ChannelData
	if err := json.Unmarshal(channels, &chans); err != nil {
		return bridge.Event{}, fmt.Errorf("ari: GET /channels: decode: %w", err)
	}
	var apps []*restApp
	if err := json.Unmarshal(channels, &apps); err != nil {
		return bridge.Event{}, fmt.Errorf("ari: GET /channels: decode: %w", err)
	}
	var brs []*restBridge
	if err := json.Unmarshal(bridges, &brs); err != nil {
		return bridge.Event{}, fmt.Errorf("ari: GET /bridges: decode: %w", err)
	}
	in := map[string]*restBridge{}
	for _, b := range brs {
		if b == nil {
			continue
		}
		for _, id := range b.ChannelIDs {
			in[id] = b
		}
	}
	app := map[string]string{}
	for _, a := range apps {
		if a != nil && a.Dialplan != nil {
			app[a.ID] = a.Dialplan.AppName
		}
	}
	ev := bridge.Event{Kind: bridge.Snapshot, Time: last, Channels: make([]bridge.Channel, 0, len(chans))}
	var newest time.Time
	for _, c := range chans {
		if c == nil || c.ID == "" {
			continue
		}
		ch := Channel(c)
		ch.App = app[c.ID]
		if b := in[c.ID]; b != nil {
			ch.Bridge = b.ID
			ch.Conference = isConference(&ari.BridgeData{Class: b.Class, Creator: b.Creator}) || ch.App == "ConfBridge" || ch.App == "MeetMe"
			if b.Creationtime != nil {
				ch.Bridged = time.Time(*b.Creationtime).UTC()
			}
		}
		if ch.Created.After(newest) {
			newest = ch.Created
		}
		ev.Channels = append(ev.Channels, ch)
	}
	if ev.Time.IsZero() {
		ev.Time = newest
	}
	return ev, nil
}

// get makes a GET request on the ARI base URL and decodes the JSON answer.
func (s *Source) get(ctx context.Context, path string, v any) error {
	body, err := s.getRaw(ctx, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("ari: GET %s: decode: %w", path, err)
	}
	return nil
}

// getRaw makes a GET request on the ARI base URL and returns the body.
func (s *Source) getRaw(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.URL+path, nil)
	if err != nil {
		return nil, fmt.Errorf("ari: GET %s: %w", path, err)
	}
	req.Header.Set("Authorization", s.auth)
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ari: GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		s.m.authFailures.Inc()
		return nil, fmt.Errorf("%w (user %q, %s)", ErrUnauthorized, s.cfg.Username, resp.Status)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, fmt.Errorf("ari: GET %s: %s", path, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("ari: GET %s: %w", path, err)
	case len(body) > maxBody:
		return nil, fmt.Errorf("ari: GET %s: answer over %d bytes", path, maxBody)
	}
	return body, nil
}
