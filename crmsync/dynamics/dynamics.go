package dynamics

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/internal/promreg"
	"github.com/callbridge/callbridge/internal/secret"
)

// APIPath is the Web API root under the environment URL.
const APIPath = "/api/data/v9.2/"

// Recognizer finds the CRM record behind a number. phoneindex.Integration
// is one; it answers from memory, so a push never waits on a lookup round
// trip.
type Recognizer interface {
	LookupE164(e164 string) (phoneindex.Match, bool)
	Lookup(number string) (phoneindex.Match, bool)
}

// Options are the daemon's parts the connector uses.
type Options struct {
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // may be nil
	// Recognizer sets the phonecall's "regarding" and the remote party
	// from the caller's CRM record. Nil: numbers only.
	Recognizer Recognizer
	// Client replaces the HTTP client built from Config (tests).
	Client *http.Client
	// Now replaces the clock (tests).
	Now func() time.Time
}

// Dynamics is the connector.
type Dynamics struct {
	name    string
	cfg     Config
	base    string // environment URL, no trailing slash
	api     string // base + APIPath
	client  *http.Client
	log     zerolog.Logger
	now     func() time.Time
	rec     Recognizer
	sem     chan struct{}
	metrics *metrics

	subjects map[string]*template.Template // by kind key, "<ext>/<kind>" for per-user, "@code" for codes

	users atomic.Pointer[UserMapping]
	// badOwners are owner ids already warned about (the CRM lacks them).
	badOwners sync.Map

	tokMu   chan struct{} // one token fetch at a time, waits honour ctx
	mu      sync.RWMutex
	secret  string
	scrub   *strings.Replacer
	token   *oauth2.Token
	tokenAt time.Time
}

// New checks cfg, reads the secret and returns the connector. No request is
// made until the first push.
func New(name string, cfg Config, opts Options) (*Dynamics, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxConcurrency == 0 {
		cfg.MaxConcurrency = DefaultMaxConcurrency
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Missed == "" {
		cfg.Missed = LeaveCompleted
	}
	if cfg.Unaccepted == "" {
		cfg.Unaccepted = LeaveCompleted
	}
	base := strings.TrimRight(cfg.URL, "/")
	if cfg.Scope == "" {
		cfg.Scope = base + "/.default"
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = "https://login.microsoftonline.com/" + url.PathEscape(cfg.TenantID) + "/oauth2/v2.0/token"
	}
	d := &Dynamics{
		name: name, cfg: cfg, base: base, api: base + APIPath,
		client: opts.Client, log: opts.Logger.With().Str("connector", name).Logger(), now: opts.Now, rec: opts.Recognizer,
		sem:   make(chan struct{}, cfg.MaxConcurrency),
		tokMu: make(chan struct{}, 1),
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		d.client = &http.Client{Transport: tr, Timeout: cfg.Timeout}
	}
	// A redirect would carry the bearer token to a host nobody configured.
	d.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if err := d.compileSubjects(); err != nil {
		return nil, err
	}
	if err := d.loadSecret(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	d.metrics = m
	d.users.Store(d.explicitMapping())
	return d, nil
}

// Name implements crmsync.Connector.
func (d *Dynamics) Name() string { return d.name }

// Refresh re-reads the client secret and drops the cached token, so the
// next request authenticates afresh (a rotated secret file is picked up).
func (d *Dynamics) Refresh(context.Context) error {
	if err := d.loadSecret(); err != nil {
		return fmt.Errorf("dynamics %s: refresh: %w", d.name, err)
	}
	d.mu.Lock()
	d.token = nil
	d.mu.Unlock()
	return nil
}

func (d *Dynamics) loadSecret() error {
	s, err := secret.Load("client_secret", d.cfg.ClientSecret, d.cfg.ClientSecretFile, d.cfg.ClientSecretCredential)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.secret = s
	d.rebuildScrub()
	d.mu.Unlock()
	return nil
}

// rebuildScrub makes the replacer that removes the secret and the current
// token from any text that could reach an error or a log. Callers hold mu.
func (d *Dynamics) rebuildScrub() {
	pairs := []string{}
	for _, v := range []string{d.secret, url.QueryEscape(d.secret)} {
		if len(v) >= 4 {
			pairs = append(pairs, v, "<secret>")
		}
	}
	if d.token != nil && len(d.token.AccessToken) >= 4 {
		pairs = append(pairs, d.token.AccessToken, "<token>")
	}
	d.scrub = strings.NewReplacer(pairs...)
}

func (d *Dynamics) scrubber() *strings.Replacer {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.scrub
}

// tokenFor returns a bearer token, fetching one when none is cached, it
// expires within a minute, or force is set. fresh says it was fetched by
// this call (a 401 with a fresh token is not worth a second try).
func (d *Dynamics) tokenFor(ctx context.Context, force bool) (tok string, fresh bool, err error) {
	d.mu.RLock()
	t := d.token
	d.mu.RUnlock()
	if !force && t != nil && d.now().Add(time.Minute).Before(t.Expiry) {
		return t.AccessToken, false, nil
	}
	select {
	case d.tokMu <- struct{}{}:
	case <-ctx.Done():
		return "", false, crmerr.Retryable(fmt.Errorf("dynamics %s: waiting for a token: %w", d.name, ctx.Err()), 0)
	}
	defer func() { <-d.tokMu }()
	// Another caller may have fetched it meanwhile.
	d.mu.RLock()
	if d.token != nil && d.token != t && d.now().Add(time.Minute).Before(d.token.Expiry) {
		tok := d.token.AccessToken
		d.mu.RUnlock()
		return tok, true, nil
	}
	secret := d.secret
	d.mu.RUnlock()
	cc := clientcredentials.Config{
		ClientID: d.cfg.ClientID, ClientSecret: secret, TokenURL: d.cfg.TokenURL,
		Scopes: []string{d.cfg.Scope}, AuthStyle: oauth2.AuthStyleInParams,
	}
	start := time.Now()
	nt, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, d.client))
	d.metrics.tokenRequests.WithLabelValues(d.name, tokenResult(err)).Inc()
	d.metrics.duration.WithLabelValues(d.name, "token").Observe(time.Since(start).Seconds())
	if err != nil {
		return "", false, d.tokenError(err)
	}
	if nt.Expiry.IsZero() {
		nt.Expiry = d.now().Add(time.Hour)
	}
	d.mu.Lock()
	d.token = nt
	d.tokenAt = d.now()
	d.rebuildScrub()
	d.mu.Unlock()
	d.log.Debug().Time("expires", nt.Expiry).Msg("dynamics token fetched")
	return nt.AccessToken, true, nil
}

func tokenResult(err error) string {
	if err == nil {
		return "ok"
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return strconv.Itoa(re.Response.StatusCode)
	}
	return "error"
}

// tokenError classifies a failed token request like any other answer,
// keeping only the OAuth error code: descriptions and bodies can echo the
// request, secret included.
func (d *Dynamics) tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		msg := "token endpoint"
		if re.ErrorCode != "" {
			msg += " " + printable([]byte(re.ErrorCode))
		}
		return fmt.Errorf("dynamics %s: %w", d.name, crmerr.FromHTTP(re.Response.StatusCode, re.Response.Header, d.scrubber().Replace(msg), d.now()))
	}
	return crmerr.Retryable(fmt.Errorf("dynamics %s: token endpoint: %s: %w", d.name, d.transportText(err), crmerr.TransportCause(err)), 0)
}

// transportText describes a transport error without the URL (which
// *url.Error repeats) and with secrets scrubbed.
func (d *Dynamics) transportText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return d.scrubber().Replace(err.Error())
}

// response is an answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// maxBody bounds what is read of one answer (a page of 5000 records with
// a few fields stays well below).
const maxBody = 64 << 20

// do sends one request to the Web API: relative paths are under APIPath,
// absolute URLs (an @odata.nextLink) must be on the environment's host. It
// holds a concurrency slot for the request, adds the OData headers and the
// bearer token, and on 401 fetches a new token and tries once more.
func (d *Dynamics) do(ctx context.Context, op, method, target string, body []byte, hdr http.Header) (*response, error) {
	u := target
	if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
		u = d.api + target
	} else if !strings.HasPrefix(target, d.base+"/") {
		// Never send the token to another host, whatever a nextLink says.
		return nil, crmerr.Permanent(fmt.Errorf("dynamics %s: %s: link leaves %s", d.name, op, d.base))
	}
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, crmerr.Retryable(fmt.Errorf("dynamics %s: %s: waiting for a request slot: %w", d.name, op, ctx.Err()), 0)
	}
	defer func() { <-d.sem }()
	d.metrics.inflight.WithLabelValues(d.name).Inc()
	defer d.metrics.inflight.WithLabelValues(d.name).Dec()

	for attempt := 0; ; attempt++ {
		tok, fresh, err := d.tokenFor(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		if err != nil {
			return nil, crmerr.Permanent(fmt.Errorf("dynamics %s: %s: build request", d.name, op))
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("OData-Version", "4.0")
		req.Header.Set("OData-MaxVersion", "4.0")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "callbridge")
		if body != nil {
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		start := time.Now()
		resp, err := d.client.Do(req)
		d.metrics.duration.WithLabelValues(d.name, op).Observe(time.Since(start).Seconds())
		if err != nil {
			d.metrics.requests.WithLabelValues(d.name, op, "error").Inc()
			return nil, crmerr.Retryable(fmt.Errorf("dynamics %s: %s: %s: %w", d.name, op, d.transportText(err), crmerr.TransportCause(err)), 0)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		d.metrics.requests.WithLabelValues(d.name, op, strconv.Itoa(resp.StatusCode)).Inc()
		if err != nil {
			return nil, crmerr.Retryable(fmt.Errorf("dynamics %s: %s: reading answer: %s: %w", d.name, op, d.transportText(err), crmerr.TransportCause(err)), 0)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			d.metrics.throttled.WithLabelValues(d.name).Inc()
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 && !fresh {
			d.log.Debug().Msg("dynamics token refused, fetching a new one")
			continue
		}
		return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
	}
}

// dvError is Dataverse's error body.
type dvError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Dataverse error codes the connector acts on.
const (
	codeDuplicateKey = "0x80040237" // a record with matching key values already exists
	codeNotFound     = "0x80040217" // record does not exist
)

// errorCode reads the Dataverse error code and message of an answer.
func errorCode(body []byte) (code, msg string) {
	var e dvError
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	return e.Error.Code, e.Error.Message
}

// fail classifies a non-2xx answer for op, quoting Dataverse's error code
// and a scrubbed, shortened message.
func (d *Dynamics) fail(op string, r *response) error {
	code, msg := errorCode(r.body)
	text := code
	if msg != "" {
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		text = strings.TrimSpace(code + " " + printable([]byte(msg)))
	} else if code == "" {
		text = printable(r.body[:min(len(r.body), 200)])
	}
	text = truncate(d.scrubber().Replace(text), 300)
	return fmt.Errorf("dynamics %s: %s: %w", d.name, op, crmerr.FromHTTP(r.status, r.header, text, d.now()))
}

// printable keeps an answer's text readable in one log line.
func printable(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, string(b))
	return strings.Join(strings.Fields(s), " ")
}

// recordNamespace is the UUIDv5 namespace of phonecall ids. Fixed forever:
// changing it would make every retried activity a new phonecall.
var recordNamespace = [16]byte{0x6b, 0x1f, 0x0e, 0x57, 0x3c, 0x2a, 0x4d, 0x1e, 0x9a, 0x43, 0x0c, 0x7d, 0x55, 0xe2, 0x18, 0x90}

// RecordID is the activityid of the phonecall written for activity id: a
// name-based (version 5) UUID, the same on every push and every install.
func RecordID(activityID string) string {
	h := sha1.New()
	h.Write(recordNamespace[:])
	h.Write([]byte(activityID))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	tokenRequests *prometheus.CounterVec
	throttled     *prometheus.CounterVec
	inflight      *prometheus.GaugeVec
	pushes        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_dynamics_requests_total",
			Help: "Dataverse Web API requests by connector, operation and HTTP status (\"error\" when no answer came).",
		}, []string{"connector", "op", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callbridge_dynamics_request_duration_seconds",
			Help:    "Time from sending a Dataverse (or token) request to its answer, by operation.",
			Buckets: prometheus.DefBuckets,
		}, []string{"connector", "op"}),
		tokenRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_dynamics_token_requests_total",
			Help: "OAuth token requests by connector and result (ok, HTTP status, error).",
		}, []string{"connector", "result"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_dynamics_throttled_total",
			Help: "Answers 429 (service protection limits) by connector.",
		}, []string{"connector"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "callbridge_dynamics_requests_in_flight",
			Help: "Dataverse requests in flight, by connector (capped by max_concurrency).",
		}, []string{"connector"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_dynamics_pushes_total",
			Help: "Activities pushed, by connector and outcome (created, existed, duplicate, failed).",
		}, []string{"connector", "outcome"}),
	}
	// Several connectors share the metrics.
	for _, err := range []error{
		promreg.Share(reg, &m.requests, &m.tokenRequests, &m.throttled, &m.pushes),
		promreg.Share(reg, &m.duration),
		promreg.Share(reg, &m.inflight),
	} {
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}
