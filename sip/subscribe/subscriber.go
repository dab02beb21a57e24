package subscribe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/netallow"
	"github.com/callbridge/callbridge/internal/reconnect"
)

// Config configures a Subscriber.
type Config struct {
	// PBX is the notifier's address, host:port ("192.0.2.5:5060"). Every
	// request goes there, in-dialog ones too, whatever Contact the PBX
	// gives: the PBX is our only peer.
	PBX string
	// Domain is the host part of the request and To URIs; default the
	// PBX host.
	Domain string
	// Transport is "udp" (the default and, for now, the only one).
	Transport string
	// Listen is the local UDP address NOTIFYs arrive on ("0.0.0.0:5070";
	// port 0 picks one). Requests are sent from it too.
	Listen string
	// AllowedSources are the networks the listener takes packets from
	// (the PBX's). Off loopback they are required and every other
	// sender's packets are counted (callbridge_sip_subscribe_refused_total)
	// and dropped unanswered; on loopback, without them, the host alone
	// can reach the listener and all of it is taken.
	AllowedSources netallow.List
	// Contact is the host:port put in our Contact header, where the PBX
	// sends NOTIFYs. Default: the listen address, or, when that is a
	// wildcard, the local address the system routes to the PBX from.
	Contact string
	// User is the user part of our From and Contact URIs; default
	// "callbridge". Asterisk matches it against an endpoint when it
	// identifies subscribers by username.
	User string
	// Extensions are the extensions to monitor, each its own
	// subscription to sip:<ext>@<domain>.
	Extensions []string
	// Expiry is the subscription duration asked for (default 600 s).
	// Subscriptions are refreshed at 80 % of what the PBX grants.
	Expiry time.Duration
	// Username and Password answer 401/407 digest challenges. They are
	// never logged.
	Username, Password string
	// RequestTimeout bounds one SUBSCRIBE transaction (default 8 s).
	RequestTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before re-subscribing
	// after a failure (default 1 s and 5 min); it doubles per consecutive
	// failure, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// OnTransition receives live transitions, from one goroutine at a
	// time, in the order the NOTIFYs were processed. It must not block
	// for long: NOTIFYs wait for it before they are answered.
	OnTransition func(bridge.Transition)
	Logger       zerolog.Logger
	// Registerer receives the subscriber's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Subscriber keeps one RFC 4235 dialog-event subscription per monitored
// extension and reports what the NOTIFYs say as live transitions.
type Subscriber struct {
	cfg     Config
	log     zerolog.Logger
	conn    net.PacketConn
	contact sip.Uri
	m       metrics

	mu   sync.Mutex
	subs map[string]*subscription // by Call-ID of the current dialog

	liveMu sync.Mutex // serialises live and the callback
	live   *live

	client *sipgo.Client
	ran    bool
}

// subscription is the current dialog of one extension. Fields are guarded
// by Subscriber.mu.
type subscription struct {
	ext          string
	callID       string
	localTag     string
	remoteTag    string
	cseq         uint32
	remoteTarget sip.Uri
	// events wakes the extension's loop: a terminating NOTIFY, or a
	// NOTIFY that shortened the subscription.
	events    chan subEvent
	confirmed bool // a 2xx or a NOTIFY established the dialog
}

type subEvent struct {
	terminated bool
	reason     string
	expires    time.Duration // > 0: the notifier's remaining duration
}

type metrics struct {
	subscriptions *prometheus.CounterVec
	notifies      *prometheus.CounterVec
	failures      *prometheus.CounterVec
	resubscribes  prometheus.Counter
	transitions   prometheus.Counter
	active        prometheus.Gauge
	refused       prometheus.Counter
}

func newMetrics(r prometheus.Registerer) metrics {
	m := metrics{
		subscriptions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_sip_subscribe_requests_total",
			Help: "SUBSCRIBE requests that got a final answer, by kind (initial, refresh, unsubscribe) and result (ok, error).",
		}, []string{"kind", "result"}),
		notifies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_sip_subscribe_notifies_total",
			Help: "NOTIFYs received, by result: applied, stale (old version), unknown (answered 481), malformed, other (not dialog-info).",
		}, []string{"result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_sip_subscribe_failures_total",
			Help: "Subscriptions lost or refused, by reason: timeout, error_response, auth, gone (481), terminated, transport.",
		}, []string{"reason"}),
		resubscribes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callbridge_sip_subscribe_resubscribes_total",
			Help: "New subscriptions started after one failed or ended.",
		}),
		transitions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callbridge_sip_subscribe_transitions_total",
			Help: "Live transitions reported from dialog-info.",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callbridge_sip_subscribe_active",
			Help: "Extensions with an accepted subscription.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callbridge_sip_subscribe_refused_total",
			Help: "Packets dropped because their source is not in sip.subscribe.allowed_sources.",
		}),
	}
	if r != nil {
		r.MustRegister(m.subscriptions, m.notifies, m.failures, m.resubscribes, m.transitions, m.active, m.refused)
	}
	return m
}

// New checks cfg and opens the listening socket; Run does the rest.
func New(cfg Config) (*Subscriber, error) {
	var errs []error
	if cfg.PBX == "" {
		errs = append(errs, errors.New("pbx: required (host:port)"))
	} else if _, _, err := net.SplitHostPort(cfg.PBX); err != nil {
		errs = append(errs, fmt.Errorf("pbx: %q: want host:port", cfg.PBX))
	}
	switch strings.ToLower(cfg.Transport) {
	case "", "udp":
		cfg.Transport = "udp"
	default:
		errs = append(errs, fmt.Errorf("transport: %q: only udp is supported", cfg.Transport))
	}
	if cfg.Listen == "" {
		errs = append(errs, errors.New("listen: required (host:port)"))
	}
	if len(cfg.Extensions) == 0 {
		errs = append(errs, errors.New("extensions: at least one required"))
	}
	seen := make(map[string]bool)
	for i, e := range cfg.Extensions {
		if e == "" || strings.ContainsAny(e, "@:;<> \t\r\n\"") {
			errs = append(errs, fmt.Errorf("extensions[%d]: %q is not a SIP user part", i, e))
		} else if seen[e] {
			errs = append(errs, fmt.Errorf("extensions[%d]: %q listed twice", i, e))
		}
		seen[e] = true
	}
	if cfg.Expiry < 0 {
		errs = append(errs, errors.New("expiry: must not be negative"))
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		errs = append(errs, errors.New("username, password: set both or neither"))
	}
	var guard netallow.Guard
	if cfg.Listen != "" {
		var err error
		if guard, err = netallow.NewGuard(cfg.Listen, cfg.AllowedSources); err != nil {
			errs = append(errs, fmt.Errorf("listen: %w", err))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("subscribe: %w", errors.Join(errs...))
	}
	if cfg.Expiry == 0 {
		cfg.Expiry = 600 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 8 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(5*time.Minute, cfg.MinBackoff)
	}
	if cfg.User == "" {
		cfg.User = "callbridge"
	}
	host, _, _ := net.SplitHostPort(cfg.PBX)
	if cfg.Domain == "" {
		cfg.Domain = host
	}

	conn, err := net.ListenPacket("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("subscribe: listen %s: %w", cfg.Listen, err)
	}
	s := &Subscriber{
		cfg:  cfg,
		log:  cfg.Logger.With().Str("component", "sip_subscribe").Logger(),
		m:    newMetrics(cfg.Registerer),
		subs: make(map[string]*subscription),
		live: newLive(),
	}
	s.conn = &guardedConn{PacketConn: conn, guard: guard, refuse: s.refuse}
	contact, err := s.contactAddr()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("subscribe: contact: %w", err)
	}
	ch, cp, _ := net.SplitHostPort(contact)
	port, _ := strconv.Atoi(cp)
	s.contact = sip.Uri{Scheme: "sip", User: cfg.User, Host: ch, Port: port}
	return s, nil
}

// contactAddr is where the PBX should send NOTIFYs.
func (s *Subscriber) contactAddr() (string, error) {
	if s.cfg.Contact != "" {
		if _, p, err := net.SplitHostPort(s.cfg.Contact); err != nil || p == "" {
			return "", fmt.Errorf("%q: want host:port", s.cfg.Contact)
		}
		return s.cfg.Contact, nil
	}
	la := s.conn.LocalAddr().(*net.UDPAddr)
	if !la.IP.IsUnspecified() {
		return la.String(), nil
	}
	// A wildcard listener: take the address the system would send to the
	// PBX from. Dialling UDP sends nothing.
	c, err := net.Dial("udp", s.cfg.PBX)
	if err != nil {
		return "", err
	}
	defer c.Close()
	ip := c.LocalAddr().(*net.UDPAddr).IP
	return net.JoinHostPort(ip.String(), strconv.Itoa(la.Port)), nil
}

// Addr is the local address NOTIFYs are received on.
func (s *Subscriber) Addr() net.Addr { return s.conn.LocalAddr() }

// Close closes the socket of a subscriber that will not Run (a start that
// failed after New); Run closes it itself.
func (s *Subscriber) Close() error { return s.conn.Close() }

// Run subscribes for every extension, keeps the subscriptions alive and
// answers NOTIFYs until ctx is done; it then unsubscribes (Expires: 0),
// closes the socket and returns nil. Run may be called once.
func (s *Subscriber) Run(ctx context.Context) error {
	if s.ran {
		return errors.New("subscribe: Run called twice")
	}
	s.ran = true
	defer s.conn.Close()

	slogger := slogFrom(s.cfg.Logger)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(s.cfg.User),
		sipgo.WithUserAgentHostname(s.contact.Host),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(slogger)),
	)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slogger))
	if err != nil {
		ua.Close()
		return fmt.Errorf("subscribe: %w", err)
	}
	// Requests leave from the listening socket, so the PBX sees one
	// address for us and responses and NOTIFYs share the one reader.
	s.client, err = sipgo.NewClient(ua,
		sipgo.WithClientLogger(slogger),
		sipgo.WithClientConnectionAddr(s.conn.LocalAddr().String()),
		// Via names the address the PBX can reach, not a wildcard.
		sipgo.WithClientHostname(s.contact.Host),
		sipgo.WithClientPort(s.contact.Port),
	)
	if err != nil {
		ua.Close()
		return fmt.Errorf("subscribe: %w", err)
	}
	srv.OnNotify(s.onNotify)

	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.ServeUDP(s.conn); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Error().Err(err).Msg("serving udp")
		}
	}()
	// sipgo registers the socket for sending only once ServeUDP runs;
	// a request sent before that would try to bind a second socket to
	// the same address.
	if err := waitServing(ctx, ua, s.conn.LocalAddr().String()); err != nil {
		ua.Close()
		s.conn.Close()
		<-served
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("subscribe: %w", err)
	}
	s.log.Info().Str("listen", s.conn.LocalAddr().String()).Str("pbx", s.cfg.PBX).
		Int("extensions", len(s.cfg.Extensions)).Msg("dialog subscriber started")

	var wg sync.WaitGroup
	for _, ext := range s.cfg.Extensions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.keep(ctx, ext)
		}()
	}
	wg.Wait()

	ua.Close()
	s.conn.Close()
	<-served
	return nil
}

func waitServing(ctx context.Context, ua *sipgo.UserAgent, addr string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err := ua.TransportLayer().GetConnection("udp", addr); err == nil {
			c.TryClose() // GetConnection took a reference
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("udp listener %s not serving", addr)
		}
		if !sleep(ctx, 5*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// keep holds one extension's subscription until ctx is done.
func (s *Subscriber) keep(ctx context.Context, ext string) {
	log := s.log.With().Str("user", ext).Logger()
	failures := 0
	first := true
	for ctx.Err() == nil {
		if !first {
			s.m.resubscribes.Inc()
			d := backoff(s.cfg.MinBackoff, s.cfg.MaxBackoff, failures)
			log.Info().Int("attempt", failures+1).Dur("retry_in", d).Msg("re-subscribing")
			if !sleep(ctx, d) {
				return
			}
		}
		first = false
		failures++
		sub, granted, err := s.subscribe(ctx, ext, log)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn().Err(err).Int("attempt", failures).Msg("subscribe failed")
			}
			continue
		}
		s.m.active.Inc()
		failures = s.hold(ctx, sub, granted, failures, log)
		s.m.active.Dec()
		s.drop(sub)
	}
}

// hold refreshes sub until it fails or ctx is done, and returns the count
// of consecutive failures to back off by.
func (s *Subscriber) hold(ctx context.Context, sub *subscription, granted time.Duration, failures int, log zerolog.Logger) int {
	timer := time.NewTimer(refreshIn(granted))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			s.unsubscribe(sub, log)
			return failures
		case ev := <-sub.events:
			if ev.terminated {
				s.m.failures.WithLabelValues("terminated").Inc()
				log.Info().Str("reason", ev.reason).Msg("subscription terminated by the notifier")
				return failures
			}
			timer.Reset(refreshIn(ev.expires))
		case <-timer.C:
			g, err := s.refresh(ctx, sub, log)
			if err != nil {
				if ctx.Err() != nil {
					// Shutdown cut the refresh short; still end
					// the subscription rather than let it expire.
					s.unsubscribe(sub, log)
					return failures
				}
				log.Warn().Err(err).Msg("refresh failed")
				return failures
			}
			failures = 0
			timer.Reset(refreshIn(g))
		}
	}
}

// refreshIn is when to refresh a subscription granted for d: at 80 %.
func refreshIn(d time.Duration) time.Duration {
	return max(d*4/5, 100*time.Millisecond)
}

// backoff is the wait before re-subscribing after failures: ±20 % jitter
// keeps many extensions from re-subscribing in step.
func backoff(lo, hi time.Duration, failures int) time.Duration {
	return reconnect.Backoff{Min: lo, Max: hi, Spread: 0.2}.Wait(failures)
}

func sleep(ctx context.Context, d time.Duration) bool { return reconnect.Sleep(ctx, d) }

// errGone marks a 481: the notifier no longer knows the subscription.
var errGone = errors.New("subscription does not exist (481)")

// subscribe starts a new subscription for ext.
func (s *Subscriber) subscribe(ctx context.Context, ext string, log zerolog.Logger) (*subscription, time.Duration, error) {
	sub := &subscription{
		ext:      ext,
		callID:   sip.GenerateTagN(24) + "@callbridge",
		localTag: sip.GenerateTagN(16),
		remoteTarget: sip.Uri{
			Scheme: "sip", User: ext, Host: s.cfg.Domain,
		},
		events: make(chan subEvent, 4),
	}
	// Known before the request leaves: the first NOTIFY may overtake
	// the 2xx (RFC 6665 §4.1.2.4).
	s.mu.Lock()
	s.subs[sub.callID] = sub
	s.mu.Unlock()
	s.liveMu.Lock()
	s.live.newSubscription(ext)
	s.liveMu.Unlock()

	res, req, err := s.send(ctx, sub, s.cfg.Expiry, "initial")
	if err != nil {
		s.drop(sub)
		return nil, 0, err
	}
	granted, err := s.accepted(sub, req, res)
	if err != nil {
		s.drop(sub)
		return nil, 0, err
	}
	log.Info().Dur("expires", granted).Msg("subscribed")
	return sub, granted, nil
}

// refresh extends sub within its dialog.
func (s *Subscriber) refresh(ctx context.Context, sub *subscription, log zerolog.Logger) (time.Duration, error) {
	res, req, err := s.send(ctx, sub, s.cfg.Expiry, "refresh")
	if err != nil {
		return 0, err
	}
	g, err := s.accepted(sub, req, res)
	if err == nil {
		log.Debug().Dur("expires", g).Msg("subscription refreshed")
	}
	return g, err
}

// unsubscribe ends sub politely. ctx is already done, so it gets its own
// short deadline.
func (s *Subscriber) unsubscribe(sub *subscription, log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), min(s.cfg.RequestTimeout, 2*time.Second))
	defer cancel()
	if _, _, err := s.send(ctx, sub, 0, "unsubscribe"); err != nil {
		log.Debug().Err(err).Msg("unsubscribe")
		return
	}
	log.Info().Msg("unsubscribed")
}

// send sends one SUBSCRIBE on sub's dialog and returns its final
// response, answering one digest challenge when credentials are set.
// Results that are not 2xx come back as errors, counted by kind.
func (s *Subscriber) send(ctx context.Context, sub *subscription, expires time.Duration, kind string) (*sip.Response, *sip.Request, error) {
	req := s.request(sub, expires)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	res, err := s.client.Do(ctx, req)
	if err == nil && (res.StatusCode == 401 || res.StatusCode == 407) && s.cfg.Username != "" {
		res, err = s.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{
			Username: s.cfg.Username, Password: s.cfg.Password,
		})
	}
	s.mu.Lock()
	if cs := req.CSeq(); cs != nil && cs.SeqNo >= sub.cseq {
		sub.cseq = cs.SeqNo
	}
	s.mu.Unlock()
	if err != nil {
		s.m.subscriptions.WithLabelValues(kind, "error").Inc()
		reason := "transport"
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sip.ErrTransactionTimeout) {
			reason = "timeout"
		}
		if kind != "unsubscribe" {
			s.m.failures.WithLabelValues(reason).Inc()
		}
		return nil, req, fmt.Errorf("%s: %w", kind, err)
	}
	if !res.IsSuccess() {
		s.m.subscriptions.WithLabelValues(kind, "error").Inc()
		reason := "error_response"
		var err error = fmt.Errorf("%s: %d %s", kind, res.StatusCode, clip(res.Reason))
		switch res.StatusCode {
		case 481:
			reason, err = "gone", fmt.Errorf("%s: %w", kind, errGone)
		case 401, 407:
			reason = "auth"
		}
		if kind != "unsubscribe" {
			s.m.failures.WithLabelValues(reason).Inc()
		}
		return res, req, err
	}
	s.m.subscriptions.WithLabelValues(kind, "ok").Inc()
	return res, req, nil
}

// request builds the next SUBSCRIBE of sub's dialog.
func (s *Subscriber) request(sub *subscription, expires time.Duration) *sip.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := sip.NewRequest(sip.SUBSCRIBE, sub.remoteTarget)
	req.SetTransport(strings.ToUpper(s.cfg.Transport))
	req.SetDestination(s.cfg.PBX)

	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: s.cfg.User, Host: s.contact.Host}}
	from.Params = sip.NewParams()
	from.Params.Add("tag", sub.localTag)
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: sub.ext, Host: s.cfg.Domain}}
	to.Params = sip.NewParams()
	if sub.remoteTag != "" {
		to.Params.Add("tag", sub.remoteTag)
	}
	callID := sip.CallIDHeader(sub.callID)
	sub.cseq++
	cseq := &sip.CSeqHeader{SeqNo: sub.cseq, MethodName: sip.SUBSCRIBE}
	contact := &sip.ContactHeader{Address: s.contact}
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(cseq)
	req.AppendHeader(contact)
	req.AppendHeader(sip.NewHeader("Event", "dialog"))
	req.AppendHeader(sip.NewHeader("Accept", ContentType))
	req.AppendHeader(sip.NewHeader("Allow", "NOTIFY"))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	req.SetBody(nil)
	return req
}

// accepted records a 2xx to SUBSCRIBE on sub and returns the granted
// duration.
func (s *Subscriber) accepted(sub *subscription, req *sip.Request, res *sip.Response) (time.Duration, error) {
	granted := s.cfg.Expiry
	if h := res.GetHeader("Expires"); h != nil {
		n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%d response with bad Expires %q", res.StatusCode, clip(h.Value()))
		}
		granted = time.Duration(n) * time.Second
	}
	if granted <= 0 {
		s.m.failures.WithLabelValues("terminated").Inc()
		return 0, errors.New("subscription granted for 0 s")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if to := res.To(); to != nil && sub.remoteTag == "" {
		if tag, ok := to.Params.Get("tag"); ok {
			sub.remoteTag = tag
		}
	}
	if c := res.Contact(); c != nil {
		sub.remoteTarget = *c.Address.Clone()
	}
	sub.confirmed = true
	return granted, nil
}

// drop forgets sub: later NOTIFYs for it get 481.
func (s *Subscriber) drop(sub *subscription) {
	s.mu.Lock()
	if s.subs[sub.callID] == sub {
		delete(s.subs, sub.callID)
	}
	s.mu.Unlock()
}

// onNotify answers a NOTIFY: 481 when it belongs to no subscription of
// ours, else 200 OK, and turns a dialog-info body into transitions.
func (s *Subscriber) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	at := time.Now()
	respond := func(code int, reason string) {
		if err := tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil)); err != nil {
			s.log.Debug().Err(err).Int("status", code).Msg("answering NOTIFY")
		}
	}
	sub, ok := s.match(req)
	if !ok {
		s.m.notifies.WithLabelValues("unknown").Inc()
		respond(481, "Subscription Does Not Exist")
		return
	}
	log := s.log.With().Str("user", sub.ext).Logger()
	if ev := req.GetHeader("Event"); ev == nil || !isDialogEvent(ev.Value()) {
		s.m.notifies.WithLabelValues("unknown").Inc()
		respond(489, "Bad Event")
		return
	}
	// NOTIFYs of all subscriptions are handled one at a time, answered
	// first, then applied: a notifier that waits for the 200 before the
	// next NOTIFY (pjsip does) thus has its documents applied in the
	// order it sent them, and the callback sees that order.
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	respond(200, "OK")

	state := parseSubscriptionState(req.GetHeader("Subscription-State"))
	body := req.Body()
	ct := req.ContentType()
	switch {
	case len(body) == 0:
		s.m.notifies.WithLabelValues("other").Inc()
	case ct == nil || !strings.EqualFold(strings.TrimSpace(strings.SplitN(ct.Value(), ";", 2)[0]), ContentType):
		s.m.notifies.WithLabelValues("other").Inc()
	default:
		info, err := ParseDialogInfo(body)
		if err != nil {
			s.m.notifies.WithLabelValues("malformed").Inc()
			log.Warn().Err(err).Msg("bad dialog-info body")
			break
		}
		trs, v := s.live.apply(sub.ext, info, at)
		if v == stale {
			log.Debug().Uint64("version", info.Version).Msg("stale dialog-info ignored")
			s.m.notifies.WithLabelValues("stale").Inc()
		} else {
			s.m.notifies.WithLabelValues("applied").Inc()
		}
		for _, tr := range trs {
			s.m.transitions.Inc()
			log.Debug().Str("call_id", tr.CallID).Str("state", string(tr.State)).Msg("live transition")
			if s.cfg.OnTransition != nil {
				s.cfg.OnTransition(tr)
			}
		}
	}

	switch {
	case state.terminated:
		s.drop(sub)
		s.signal(sub, subEvent{terminated: true, reason: state.reason})
	case state.expires > 0:
		s.signal(sub, subEvent{expires: state.expires})
	}
}

// signal wakes sub's loop without ever blocking the NOTIFY handler; a
// terminated event must not be lost, so it displaces a pending refresh
// hint.
func (s *Subscriber) signal(sub *subscription, ev subEvent) {
	for {
		select {
		case sub.events <- ev:
			return
		default:
		}
		if !ev.terminated {
			return
		}
		select {
		case <-sub.events:
		default:
		}
	}
}

// match finds the subscription a NOTIFY belongs to: same Call-ID, our tag
// as its To tag, and, once the dialog is established, the notifier's tag
// as its From tag.
func (s *Subscriber) match(req *sip.Request) (*subscription, bool) {
	cid, from, to := req.CallID(), req.From(), req.To()
	if cid == nil || from == nil || to == nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[cid.Value()]
	if sub == nil {
		return nil, false
	}
	if tag, _ := to.Params.Get("tag"); tag != sub.localTag {
		return nil, false
	}
	ftag, _ := from.Params.Get("tag")
	if sub.remoteTag == "" {
		sub.remoteTag = ftag
	} else if ftag != sub.remoteTag {
		return nil, false
	}
	return sub, true
}

func isDialogEvent(v string) bool {
	name, _, _ := strings.Cut(v, ";")
	return strings.EqualFold(strings.TrimSpace(name), "dialog")
}

type subState struct {
	terminated bool
	reason     string
	expires    time.Duration
}

// parseSubscriptionState reads "active;expires=599",
// "terminated;reason=timeout". A missing header changes nothing.
func parseSubscriptionState(h sip.Header) subState {
	var st subState
	if h == nil {
		return st
	}
	parts := strings.Split(h.Value(), ";")
	st.terminated = strings.EqualFold(strings.TrimSpace(parts[0]), "terminated")
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(k) {
		case "reason":
			st.reason = clip(v)
		case "expires":
			if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil && n > 0 {
				st.expires = time.Duration(n) * time.Second
			}
		}
	}
	return st
}
