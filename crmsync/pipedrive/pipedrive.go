package pipedrive

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync/internal/callinfo"
	"github.com/callbridge/callbridge/crmsync/internal/doubt"
	"github.com/callbridge/callbridge/crmsync/internal/rest"
	"github.com/callbridge/callbridge/crmsync/internal/usermap"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/internal/secret"
)

// Options are the daemon's parts the connector uses.
type Options struct {
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // may be nil
	// Recognizer supplies the caller's person or organisation. Nil:
	// numbers only.
	Recognizer phoneindex.Recognizer
	// Client replaces the HTTP client built from Config (tests).
	Client *http.Client
	// Now replaces the clock (tests).
	Now func() time.Time
}

// Pipedrive is the connector.
type Pipedrive struct {
	name     string
	cfg      Config
	c        *rest.Client
	tokens   *rest.Tokens // OAuth only
	static   *staticToken // API token only
	log      zerolog.Logger
	now      func() time.Time
	rec      phoneindex.Recognizer
	subjects *callinfo.Subjecter
	doubt    doubt.Tracker
	users    atomic.Pointer[usermap.Directory]

	mu           sync.RWMutex
	clientSecret string
	refreshToken string // the newest: Pipedrive may hand out a new one with each access token

	domainMu sync.Mutex
	domain   string // the company's subdomain, for record URLs
}

// New checks cfg, reads the secrets and returns the connector. No request
// is made until the first push.
func New(name string, cfg Config, opts Options) (*Pipedrive, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &Pipedrive{name: name, cfg: cfg, log: opts.Logger, now: opts.Now, rec: opts.Recognizer, domain: cfg.CompanyDomain}
	if p.now == nil {
		p.now = time.Now
	}
	p.doubt.Now = p.now
	subj, err := cfg.Subjects.Compile()
	if err != nil {
		return nil, err
	}
	p.subjects = subj
	m, err := rest.NewMetrics(opts.Registerer, "pipedrive", "Pipedrive")
	if err != nil {
		return nil, err
	}
	hc := rest.HTTPClient(opts.Client, cfg.Timeout)
	p.c = &rest.Client{
		CRM: "pipedrive", Connector: name, HTTP: hc, Decode: decodeError, Metrics: m,
		Scrub: &rest.Scrubber{}, Log: opts.Logger, Now: p.now,
		Allowed: []string{cfg.URL + "/api/v1/", cfg.URL + "/api/v2/"},
		Headers: http.Header{"Accept": {"application/json"}},
	}
	p.c.Init(cfg.MaxConcurrency)
	if cfg.Auth == AuthOAuth {
		p.tokens = &rest.Tokens{Fetch: p.fetchToken, Scheme: "Bearer", Scrub: p.c.Scrub, Now: p.now}
		p.c.Auth = p.tokens
	} else {
		p.static = &staticToken{}
		p.c.Auth = p.static
	}
	if err := p.loadSecrets(); err != nil {
		return nil, err
	}
	return p, nil
}

// Name implements crmsync.Connector.
func (p *Pipedrive) Name() string { return p.name }

// Refresh re-reads the secrets and, with OAuth, drops the access token.
func (p *Pipedrive) Refresh(context.Context) error {
	if err := p.loadSecrets(); err != nil {
		return fmt.Errorf("pipedrive %s: refresh: %w", p.name, err)
	}
	if p.tokens != nil {
		p.tokens.Drop("")
	}
	return nil
}

func (p *Pipedrive) loadSecrets() error {
	if p.cfg.Auth != AuthOAuth {
		v, err := secret.Load("api_token", p.cfg.APIToken, p.cfg.APITokenFile, p.cfg.APITokenCredential)
		if err != nil {
			return err
		}
		p.c.Scrub.Set("api_token", v)
		p.static.v.Store(v)
		return nil
	}
	sec, err := secret.Load("client_secret", p.cfg.ClientSecret, p.cfg.ClientSecretFile, p.cfg.ClientSecretCredential)
	if err != nil {
		return err
	}
	rt, err := secret.Load("refresh_token", p.cfg.RefreshToken, p.cfg.RefreshTokenFile, p.cfg.RefreshTokenCredential)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.clientSecret, p.refreshToken = sec, rt
	p.mu.Unlock()
	p.c.Scrub.Set("client_secret", sec)
	p.c.Scrub.Set("refresh_token", rt)
	return nil
}

// staticToken sends the API token in the x-api-token header (API
// reference, "Authentication": the header or an api_token query
// parameter; a header keeps it out of URLs).
type staticToken struct{ v atomic.Value }

func (s *staticToken) Authorize(_ context.Context, req *http.Request) (bool, error) {
	req.Header.Set("x-api-token", s.v.Load().(string))
	return true, nil
}

func (s *staticToken) Refused(*http.Request) {}

// fetchToken refreshes the OAuth access token ("Refreshing the tokens":
// POST /oauth/token, grant_type refresh_token, the client authenticated
// with HTTP Basic). The answer may carry a new refresh token; it is used
// from then on (kept in memory: after a restart the configured one is
// used again).
func (p *Pipedrive) fetchToken(ctx context.Context) (rest.Token, error) {
	p.mu.RLock()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {p.refreshToken}}
	basic := base64.StdEncoding.EncodeToString([]byte(p.cfg.ClientID + ":" + p.clientSecret))
	p.mu.RUnlock()
	p.c.Scrub.Set("basic", basic)
	tok, next, err := p.requestToken(ctx, form, basic)
	if err != nil {
		return rest.Token{}, err
	}
	if next != "" {
		p.mu.Lock()
		p.refreshToken = next
		p.mu.Unlock()
		p.c.Scrub.Set("refresh_token_next", next)
	}
	return tok, nil
}

func (p *Pipedrive) requestToken(ctx context.Context, form url.Values, basic string) (rest.Token, string, error) {
	var next string
	tok, err := p.c.RequestToken(ctx, p.cfg.TokenURL, form, http.Header{"Authorization": {"Basic " + basic}})
	if err == nil {
		next = tok.Refresh
	}
	return tok, next, err
}

// pdError is Pipedrive's error shape: {success: false, error, error_info,
// data}.
type pdError struct {
	Success   *bool  `json:"success"`
	Error     string `json:"error"`
	ErrorInfo string `json:"error_info"`
	Code      string `json:"code"`
}

// untilMidnight is the wait for the daily token budget, which resets at
// the start of the next day (UTC); crmerr caps it at an hour, so the
// worker looks again hourly.
func untilMidnight(now time.Time) time.Duration {
	n := now.UTC()
	return time.Date(n.Year(), n.Month(), n.Day()+1, 0, 0, 0, 0, time.UTC).Sub(n)
}

func decodeError(r *rest.Response) rest.Failure {
	var e pdError
	_ = json.Unmarshal(r.Body, &e)
	f := rest.Failure{Code: rest.Truncate(rest.Printable([]byte(e.Code)), 64), Message: e.Error}
	if r.Status == http.StatusTooManyRequests {
		f.Class, f.Throttled = rest.Retry, true
		switch {
		case strings.Contains(strings.ToLower(e.Error), "budget"):
			f.After = untilMidnight(time.Now())
		default:
			// The burst window is 2 s; x-ratelimit-reset says what is left.
			if s, err := strconv.Atoi(r.Header.Get("x-ratelimit-reset")); err == nil && s > 0 && s < 3600 {
				f.After = time.Duration(s) * time.Second
			} else {
				f.After = 2 * time.Second
			}
		}
	}
	return f
}
