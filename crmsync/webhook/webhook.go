package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/internal/promreg"
	"github.com/callbridge/callbridge/internal/secret"
)

// Secret is a string that never prints; see internal/secret.
type Secret = secret.Secret

// Config is one webhook connector's configuration.
type Config struct {
	// URL receives the POSTs. http or https.
	URL string `yaml:"url"`
	// The signing secret: exactly one of the value, a file holding it, or
	// the name of a systemd credential (LoadCredential=) read from
	// $CREDENTIALS_DIRECTORY. Surrounding white space is ignored.
	Secret           Secret `yaml:"secret"`
	SecretFile       string `yaml:"secret_file"`
	SecretCredential string `yaml:"secret_credential"`
	// Timeout bounds one request, connection included. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// Headers are added to every request (e.g. an API key). Their values
	// are treated as secrets: never logged, scrubbed from errors.
	Headers map[string]Secret `yaml:"headers"`
	TLS     TLSConfig         `yaml:"tls"`
	// RecognitionFrom names another connector (of this configuration)
	// with recognition on: its phone index fills the body's "matches".
	// "": none, matches is always empty.
	RecognitionFrom string `yaml:"recognition_from"`
}

// TLSConfig configures https URLs.
type TLSConfig struct {
	// CAFile adds PEM CA certificates to the system pool.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile: a client certificate, for mutual TLS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the server certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify turns certificate checks off. Never in
	// production; off by default.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// DefaultTimeout bounds a request when Config.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// reserved headers are set by the connector itself.
var reserved = map[string]bool{
	"Content-Type": true, "Content-Length": true, "Idempotency-Key": true,
	textproto.CanonicalMIMEHeaderKey(SignatureHeader): true, "Host": true,
	textproto.CanonicalMIMEHeaderKey(EventHeader): true,
}

// Validate returns every problem, joined, naming keys relative to the
// webhook section.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.URL == "" {
		bad("url", "required")
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("url", "want an absolute http or https URL")
	} else if p := u.Port(); p != "" && !portOK(p) {
		bad("url", "port %q is not a port (1–65535)", p)
	}
	n := 0
	for _, set := range []bool{c.Secret != "", c.SecretFile != "", c.SecretCredential != ""} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		bad("secret", "required (or secret_file, or secret_credential)")
	case n > 1:
		bad("secret", "set only one of secret, secret_file, secret_credential")
	}
	if c.SecretCredential != "" && (strings.ContainsAny(c.SecretCredential, `/\`) || c.SecretCredential == "." || c.SecretCredential == "..") {
		bad("secret_credential", "a credential name, not a path")
	}
	if c.Timeout < 0 {
		bad("timeout", "must not be negative")
	}
	for k := range c.Headers {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		if reserved[ck] {
			bad("headers."+k, "set by callbridge itself")
		} else if k == "" || strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r >= unicode.MaxASCII || r == ':' }) {
			bad("headers."+k, "not a valid header name")
		}
		// Go's client refuses such a value on every request, which would
		// look retryable forever. The value is a secret: never quoted.
		if strings.ContainsFunc(string(c.Headers[k]), func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f }) {
			bad("headers."+k, "the value holds a line break or another control character")
		}
	}
	if c.RecognitionFrom != "" && strings.TrimSpace(c.RecognitionFrom) != c.RecognitionFrom {
		bad("recognition_from", "a connector name, without surrounding spaces")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls.cert_file", "cert_file and key_file go together")
	}
	return errors.Join(errs...)
}

func portOK(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// Check does what New does with the files and credentials the config
// names: reads the secret and the TLS files and parses them, so that
// `config check` and `run` refuse the same things before anything runs.
func (c Config) Check() error {
	var errs []error
	if _, err := secret.Load("secret", c.Secret, c.SecretFile, c.SecretCredential); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.TLS.build(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Options are the daemon's parts a webhook uses.
type Options struct {
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // may be nil
	// Client replaces the HTTP client built from Config (tests).
	Client *http.Client
	// Now replaces the clock used for signature times (tests).
	Now func() time.Time
	// Recognizer finds the records for the body's "matches": the phone
	// index of the connector Config.RecognitionFrom names. nil: none.
	Recognizer phoneindex.Recognizer
}

// Webhook is the connector.
type Webhook struct {
	name    string
	cfg     Config
	target  string // the URL as errors show it: no user info, no query
	client  *http.Client
	log     zerolog.Logger
	now     func() time.Time
	rec     phoneindex.Recognizer
	mu      sync.RWMutex
	secret  []byte
	scrub   *strings.Replacer
	metrics *metrics
}

// New checks cfg, reads the secret and returns the connector.
func New(name string, cfg Config, opts Options) (*Webhook, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	u, _ := url.Parse(cfg.URL)
	w := &Webhook{
		name:   name,
		cfg:    cfg,
		target: (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String(),
		log:    opts.Logger.With().Str("connector", name).Logger(),
		now:    opts.Now,
		client: opts.Client,
		rec:    opts.Recognizer,
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.client == nil {
		tc, err := cfg.TLS.build()
		if err != nil {
			return nil, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		tr.MaxIdleConnsPerHost = 64
		w.client = &http.Client{Transport: tr, Timeout: cfg.Timeout}
	}
	// Redirects could carry the signed body to a host nobody configured.
	w.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if err := w.loadSecret(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	w.metrics = m
	return w, nil
}

func (t TLSConfig) build() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	var errs []error
	if t.CAFile != "" {
		pem, err := readFile(t.CAFile)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("tls.ca_file: %w", err))
		default:
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				errs = append(errs, fmt.Errorf("tls.ca_file: %q holds no PEM certificate", t.CAFile))
			}
			tc.RootCAs = pool
		}
	}
	if t.CertFile != "" && t.KeyFile != "" {
		certPEM, cerr := readFile(t.CertFile)
		if cerr != nil {
			errs = append(errs, fmt.Errorf("tls.cert_file: %w", cerr))
		}
		keyPEM, kerr := readFile(t.KeyFile)
		if kerr != nil {
			errs = append(errs, fmt.Errorf("tls.key_file: %w", kerr))
		}
		if cerr == nil && kerr == nil {
			cert, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				// The key's content never shows: crypto/tls's messages
				// name what is wrong, not what the file holds.
				errs = append(errs, fmt.Errorf("tls.cert_file: with tls.key_file: %w", err))
			}
			tc.Certificates = []tls.Certificate{cert}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return tc, nil
}

// readFile reads a TLS file; its error names the file once.
func readFile(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	var pe *os.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("%q: %w", name, pe.Err)
	}
	return b, err
}

// loadSecret (re)reads the secret and rebuilds the scrubber.
func (w *Webhook) loadSecret() error {
	s, err := secret.Load("secret", w.cfg.Secret, w.cfg.SecretFile, w.cfg.SecretCredential)
	if err != nil {
		return err
	}
	var pairs []string
	for _, v := range append(append([]string{s}, headerValues(w.cfg.Headers)...), urlSecrets(w.cfg.URL)...) {
		if len(v) >= 4 { // shorter values would scrub ordinary text
			pairs = append(pairs, v, "<secret>")
		}
		// "Bearer <token>": the token alone must not show either.
		for _, f := range strings.Fields(v) {
			if len(f) >= 8 && f != v {
				pairs = append(pairs, f, "<secret>")
			}
		}
	}
	w.mu.Lock()
	w.secret = []byte(s)
	w.scrub = strings.NewReplacer(pairs...)
	w.mu.Unlock()
	return nil
}

// urlSecrets are the parts of a URL that may be credentials: the password
// and every query value (APIs like ?token=...).
func urlSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var out []string
	if p, ok := u.User.Password(); ok {
		out = append(out, p)
	}
	for _, vs := range u.Query() {
		out = append(out, vs...)
	}
	return out
}

func headerValues(h map[string]Secret) []string {
	var out []string
	for _, v := range h {
		out = append(out, string(v))
	}
	return out
}

// Name implements crmsync.Connector.
func (w *Webhook) Name() string { return w.name }

// Refresh re-reads the secret, so a rotated secret file is picked up when
// the receiver starts answering 401.
func (w *Webhook) Refresh(context.Context) error {
	if err := w.loadSecret(); err != nil {
		return fmt.Errorf("webhook %s: refresh secret: %w", w.name, err)
	}
	return nil
}

// Push POSTs the activity with its assignment and matches (Body).
// Idempotency-Key is the activity id, so a receiver can drop repeats.
func (w *Webhook) Push(ctx context.Context, d crmsync.Delivery) error {
	a := d.Activity
	b := w.body(d)
	body, err := encode(&b)
	if err != nil {
		return crmerr.Permanent(fmt.Errorf("webhook %s: encode activity: %w", w.name, err))
	}
	return w.post(ctx, EventActivity, a.ID, body, a.CallID, a.User)
}

// post sends one signed event.
func (w *Webhook) post(ctx context.Context, event, key string, body []byte, callID, user string) error {
	w.mu.RLock()
	secret, scrub := w.secret, w.scrub
	w.mu.RUnlock()
	now := w.now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return crmerr.Permanent(fmt.Errorf("webhook %s: build request for %s", w.name, w.target))
	}
	for k, v := range w.cfg.Headers {
		req.Header.Set(k, string(v))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "callbridge")
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set(EventHeader, event)
	req.Header.Set(SignatureHeader, Sign(secret, now.Unix(), body))

	start := time.Now()
	resp, err := w.client.Do(req)
	w.metrics.duration.WithLabelValues(w.name).Observe(time.Since(start).Seconds())
	if err != nil {
		// *url.Error repeats the whole URL, query and user info included:
		// keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		w.metrics.requests.WithLabelValues(w.name, "error").Inc()
		cause := crmerr.TransportCause(err)
		msg := scrub.Replace(err.Error())
		if msg == cause.Error() {
			err = crmerr.Retryable(fmt.Errorf("webhook %s: POST %s: %w", w.name, w.target, cause), 0)
		} else {
			err = crmerr.Retryable(fmt.Errorf("webhook %s: POST %s: %s: %w", w.name, w.target, msg, cause), 0)
		}
		w.log.Debug().Str("call_id", callID).Str("user", user).Str("event", event).Err(err).Msg("webhook push failed")
		return err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	w.metrics.requests.WithLabelValues(w.name, strconv.Itoa(resp.StatusCode)).Inc()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	msg := scrub.Replace(printable(snippet))
	err = crmerr.FromHTTP(resp.StatusCode, resp.Header, "", now)
	err = fmt.Errorf("webhook %s: POST %s: %w%s", w.name, w.target, err, bodySuffix(msg))
	w.log.Debug().Str("call_id", callID).Str("user", user).Str("event", event).Int("status", resp.StatusCode).Err(err).Msg("webhook push refused")
	return err
}

func bodySuffix(msg string) string {
	if msg == "" {
		return ""
	}
	return " (body: " + msg + ")"
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

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_webhook_requests_total",
			Help: "Webhook requests by connector and HTTP status (\"error\" when no answer came).",
		}, []string{"connector", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callbridge_webhook_request_duration_seconds",
			Help:    "Time from sending a webhook request to its answer.",
			Buckets: prometheus.DefBuckets,
		}, []string{"connector"}),
	}
	// Several webhook connectors share the metrics.
	if err := promreg.Share(reg, &m.requests); err != nil {
		return nil, err
	}
	if err := promreg.Share(reg, &m.duration); err != nil {
		return nil, err
	}
	return m, nil
}
