package zoho

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
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
	// Recognizer supplies the caller's contact, lead or account. Nil:
	// numbers only.
	Recognizer phoneindex.Recognizer
	// Client replaces the HTTP client built from Config (tests).
	Client *http.Client
	// Now replaces the clock (tests).
	Now func() time.Time
}

// Zoho is the connector.
type Zoho struct {
	name     string
	cfg      Config
	api      string // <api_url>/crm/<version>/
	c        *rest.Client
	tokens   *rest.Tokens
	log      zerolog.Logger
	now      func() time.Time
	rec      phoneindex.Recognizer
	subjects *callinfo.Subjecter
	doubt    doubt.Tracker
	users    atomic.Pointer[usermap.Directory]

	mu           sync.RWMutex
	clientSecret string
	refreshToken string

	fieldsMu sync.Mutex
	fields   map[string]bool // the Calls module's field API names, once read
	orgMu    sync.Mutex
	orgPath  string // the org's part of record URLs ("org123456"), once read
}

// New checks cfg, reads the secrets and returns the connector. No request
// is made until the first push.
func New(name string, cfg Config, opts Options) (*Zoho, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	z := &Zoho{name: name, cfg: cfg, api: cfg.APIURL + "/crm/" + cfg.APIVersion + "/",
		log: opts.Logger, now: opts.Now, rec: opts.Recognizer}
	if z.now == nil {
		z.now = time.Now
	}
	z.doubt.Now = z.now
	subj, err := cfg.Subjects.Compile()
	if err != nil {
		return nil, err
	}
	z.subjects = subj
	m, err := rest.NewMetrics(opts.Registerer, "zoho", "Zoho CRM")
	if err != nil {
		return nil, err
	}
	hc := rest.HTTPClient(opts.Client, cfg.Timeout)
	z.c = &rest.Client{
		CRM: "zoho", Connector: name, HTTP: hc, Decode: decodeError, Metrics: m,
		Scrub: &rest.Scrubber{}, Log: opts.Logger, Now: z.now,
		Allowed: []string{z.api}, Headers: http.Header{"Accept": {"application/json"}},
	}
	z.c.Init(cfg.MaxConcurrency)
	// Zoho wants its own scheme: "Authorization: Zoho-oauthtoken <token>".
	z.tokens = &rest.Tokens{Fetch: z.fetchToken, Scheme: "Zoho-oauthtoken", Scrub: z.c.Scrub, Now: z.now}
	z.c.Auth = z.tokens
	if err := z.loadSecrets(); err != nil {
		return nil, err
	}
	return z, nil
}

// Name implements crmsync.Connector.
func (z *Zoho) Name() string { return z.name }

// Refresh re-reads the client secret and refresh token and drops the
// access token.
func (z *Zoho) Refresh(context.Context) error {
	if err := z.loadSecrets(); err != nil {
		return fmt.Errorf("zoho %s: refresh: %w", z.name, err)
	}
	z.tokens.Drop("")
	return nil
}

func (z *Zoho) loadSecrets() error {
	sec, err := secret.Load("client_secret", z.cfg.ClientSecret, z.cfg.ClientSecretFile, z.cfg.ClientSecretCredential)
	if err != nil {
		return err
	}
	rt, err := secret.Load("refresh_token", z.cfg.RefreshToken, z.cfg.RefreshTokenFile, z.cfg.RefreshTokenCredential)
	if err != nil {
		return err
	}
	z.mu.Lock()
	z.clientSecret, z.refreshToken = sec, rt
	z.mu.Unlock()
	z.c.Scrub.Set("client_secret", sec)
	z.c.Scrub.Set("refresh_token", rt)
	return nil
}

// fetchToken trades the refresh token for an access token (Zoho OAuth,
// "Refresh access tokens": POST /oauth/v2/token with grant_type
// refresh_token; the token lives an hour).
func (z *Zoho) fetchToken(ctx context.Context) (rest.Token, error) {
	z.mu.RLock()
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {z.cfg.ClientID},
		"client_secret": {z.clientSecret}, "refresh_token": {z.refreshToken}}
	z.mu.RUnlock()
	tok, err := z.c.RequestToken(ctx, z.cfg.AccountsURL+"/oauth/v2/token", form, nil)
	if err == nil {
		z.log.Debug().Str("connector", z.name).Msg("zoho token fetched")
	}
	return tok, err
}

// zError is Zoho's error shape, for a request ({code, details, message,
// status}) or, inside "data", for each record.
type zError struct {
	Code    string         `json:"code"`
	Details map[string]any `json:"details"`
	Message string         `json:"message"`
	Status  string         `json:"status"`
}

// concurrencyWait is the wait on TOO_MANY_REQUESTS: the org's concurrency
// (5 to 25 calls at once) or its credits (counted over a rolling 24 hours)
// are spent; neither says when it frees up.
const concurrencyWait = time.Minute

func decodeError(r *rest.Response) rest.Failure {
	var e struct {
		zError
		Data []zError `json:"data"`
	}
	if json.Unmarshal(r.Body, &e) != nil {
		return rest.Failure{}
	}
	ze := e.zError
	if ze.Code == "" && len(e.Data) > 0 {
		ze = e.Data[0]
	}
	return classify(ze)
}

func classify(e zError) rest.Failure {
	f := rest.Failure{Code: rest.Truncate(rest.Printable([]byte(e.Code)), 64), Message: e.Message}
	if name, ok := e.Details["api_name"].(string); ok {
		f.Message = rest.Truncate(rest.Printable([]byte(name)), 64) + ": " + e.Message
		if t, ok := e.Details["expected_data_type"].(string); ok {
			f.Message += " (expected " + rest.Truncate(rest.Printable([]byte(t)), 32) + ")"
		}
	}
	switch e.Code {
	case "INVALID_TOKEN", "AUTHENTICATION_FAILURE", "OAUTH_SCOPE_MISMATCH":
		f.Class = rest.Unauthorized
	case "TOO_MANY_REQUESTS":
		f.Class, f.Throttled, f.After = rest.Retry, true, concurrencyWait
	case "INTERNAL_ERROR":
		f.Class = rest.Retry
	}
	return f
}
