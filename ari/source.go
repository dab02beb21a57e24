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
	"strings"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/net/websocket"

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
// It speaks the websocket itself (golang.org/x/net/websocket and ari/v5's
// event decoder, as ari/v5's native client does) rather than through that
// client, which cannot report a reconnect, silently drops events when a
// subscriber falls 100 behind, and retries refused credentials forever.
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
		synced, err := s.session(ctx, out)
		s.m.connected.Set(0)
		return synced, err
	})
}

// inbound is one websocket message, or the error that ended the connection.
type inbound struct {
	data []byte
	err  error
}

// session runs one connection: check the credentials, open the websocket,
// reconcile, then pass events on until the connection or ctx ends. synced
// says the snapshot was delivered.
func (s *Source) session(ctx context.Context, out func(bridge.Event)) (synced bool, err error) {
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
	// Read from the moment the websocket is up, so events that happen while
	// the channels are listed wait in msgs and follow the snapshot.
	msgs := make(chan inbound, 256)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.readLoop(ws, msgs, done)
	}()
	defer func() {
		close(done)
		ws.Close()
		wg.Wait()
	}()

	snap, err := s.snapshot(ctx)
	if err != nil {
		return false, err
	}
	s.log.Info().Str("asterisk", info.SystemInfo.Version).Int("channels", len(snap.Channels)).Msg("ari source connected")
	s.m.connected.Set(1)
	out(snap)

	for {
		select {
		case <-ctx.Done():
			return true, nil
		case m := <-msgs:
			if m.err != nil {
				return true, m.err
			}
			if replaced(m.data) {
				s.log.Error().Msg("ARI application taken over by another client: give each callbridge instance its own ari.application")
				return true, fmt.Errorf("%w (application %q)", ErrApplicationReplaced, s.cfg.Application)
			}
			s.handle(m.data, out)
		}
	}
}

func (s *Source) dial(ctx context.Context) (*websocket.Conn, error) {
	wc, err := websocket.NewConfig(s.ws.String(), "http://localhost/")
	if err != nil {
		return nil, fmt.Errorf("ari: websocket: %w", err)
	}
	wc.Header.Set("Authorization", s.auth)
	dctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	ws, err := wc.DialContext(dctx)
	if err != nil {
		// The error names the websocket URL, which holds no secret: the
		// credentials travel in a header.
		return nil, fmt.Errorf("ari: events websocket: %w", err)
	}
	ws.MaxPayloadBytes = maxLine
	return ws, nil
}

// readLoop passes every message on until the connection fails or done is
// closed. An over-long message is passed on empty, so that it is counted as
// malformed without ending the connection.
func (s *Source) readLoop(ws *websocket.Conn, msgs chan<- inbound, done <-chan struct{}) {
	for {
		var data []byte
		err := websocket.Message.Receive(ws, &data)
		if errors.Is(err, websocket.ErrFrameTooLarge) {
			data, err = []byte{}, nil
		}
		if err != nil {
			err = fmt.Errorf("ari: events websocket: %w", err)
		}
		select {
		case msgs <- inbound{data: data, err: err}:
		case <-done:
			return
		}
		if err != nil {
			return
		}
	}
}

var applicationReplaced = []byte("ApplicationReplaced")

// replaced tells an ApplicationReplaced message.
func replaced(data []byte) bool {
	t, ok := stringAfter(data, typeKey)
	return ok && bytes.Equal(t, applicationReplaced)
}

// handle maps one message and passes it on.
func (s *Source) handle(data []byte, out func(bridge.Event)) {
	s.m.received.Inc()
	ev, ok, err := Decode(data)
	switch {
	case err != nil:
		s.m.malformed.Inc()
		// The message itself is not logged: it may hold phone numbers.
		s.log.Warn().Err(err).Int("bytes", len(data)).Msg("ari: malformed event dropped")
	case ok:
		s.m.mapped.Inc()
		if !ev.Time.IsZero() {
			s.last = ev.Time
		}
		out(ev)
	default:
		// Events the engine does not use still prove the connection was
		// alive at their time.
		var v struct {
			Timestamp ari.DateTime `json:"timestamp"`
		}
		if json.Unmarshal(data, &v) == nil && !time.Time(v.Timestamp).IsZero() {
			s.last = time.Time(v.Timestamp)
		}
	}
}

// snapshot lists the live channels and bridges.
func (s *Source) snapshot(ctx context.Context) (bridge.Event, error) {
	chans, err := s.getRaw(ctx, "/channels")
	if err != nil {
		return bridge.Event{}, err
	}
	bridges, err := s.getRaw(ctx, "/bridges")
	if err != nil {
		return bridge.Event{}, err
	}
	ev, err := parseSnapshot(chans, bridges, s.last)
	if err != nil {
		return bridge.Event{}, err
	}
	s.last = ev.Time
	return ev, nil
}

// parseSnapshot builds the Snapshot event from the bodies of GET /channels
// and GET /bridges. Its time is last, the last event received before the
// gap; on a first connect (last is zero), the newest channel's creation.
func parseSnapshot(channels, bridges []byte, last time.Time) (bridge.Event, error) {
	var chans []*ari.ChannelData
	if err := json.Unmarshal(channels, &chans); err != nil {
		return bridge.Event{}, fmt.Errorf("ari: GET /channels: decode: %w", err)
	}
	var brs []*ari.BridgeData
	if err := json.Unmarshal(bridges, &brs); err != nil {
		return bridge.Event{}, fmt.Errorf("ari: GET /bridges: decode: %w", err)
	}
	in := map[string]string{}
	for _, b := range brs {
		if b == nil {
			continue
		}
		for _, id := range b.ChannelIDs {
			in[id] = b.ID
		}
	}
	ev := bridge.Event{Kind: bridge.Snapshot, Time: last, Channels: make([]bridge.Channel, 0, len(chans))}
	var newest time.Time
	for _, c := range chans {
		if c == nil || c.ID == "" {
			continue
		}
		ch := Channel(c)
		ch.Bridge = in[c.ID]
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
