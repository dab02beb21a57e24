package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
	// Recognizer supplies the caller's contact or company. Nil: numbers
	// only.
	Recognizer phoneindex.Recognizer
	// Client replaces the HTTP client built from Config (tests).
	Client *http.Client
	// Now replaces the clock (tests).
	Now func() time.Time
}

// HubSpot is the connector.
type HubSpot struct {
	name     string
	cfg      Config
	c        *rest.Client
	auth     *tokenAuth
	log      zerolog.Logger
	now      func() time.Time
	rec      phoneindex.Recognizer
	subjects *callinfo.Subjecter
	doubt    doubt.Tracker
	users    atomic.Pointer[usermap.Directory]

	acctMu   sync.Mutex
	appURL   string // for record URLs, once known
	portalID string
}

// New checks cfg, reads the token and returns the connector. No request is
// made until the first push.
func New(name string, cfg Config, opts Options) (*HubSpot, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	h := &HubSpot{name: name, cfg: cfg, log: opts.Logger, now: opts.Now, rec: opts.Recognizer,
		appURL: cfg.AppURL, portalID: cfg.PortalID}
	if h.now == nil {
		h.now = time.Now
	}
	h.doubt.Now = h.now
	subj, err := cfg.Subjects.Compile()
	if err != nil {
		return nil, err
	}
	h.subjects = subj
	m, err := rest.NewMetrics(opts.Registerer, "hubspot", "HubSpot")
	if err != nil {
		return nil, err
	}
	hc := rest.HTTPClient(opts.Client, cfg.Timeout)
	h.auth = &tokenAuth{}
	h.c = &rest.Client{
		CRM: "hubspot", Connector: name, HTTP: hc, Auth: h.auth, Decode: decodeError, Metrics: m,
		Scrub: &rest.Scrubber{}, Log: opts.Logger, Now: h.now,
		Allowed: []string{cfg.URL + "/crm/v3/", cfg.URL + "/account-info/v3/"},
		Headers: http.Header{"Accept": {"application/json"}},
	}
	h.c.Init(cfg.MaxConcurrency)
	if err := h.loadToken(); err != nil {
		return nil, err
	}
	return h, nil
}

// Name implements crmsync.Connector.
func (h *HubSpot) Name() string { return h.name }

// Refresh re-reads the access token: a private app's token is rotated in
// HubSpot and the file updated; the old one stops working.
func (h *HubSpot) Refresh(context.Context) error {
	if err := h.loadToken(); err != nil {
		return fmt.Errorf("hubspot %s: refresh: %w", h.name, err)
	}
	return nil
}

func (h *HubSpot) loadToken() error {
	v, err := secret.Load("token", h.cfg.Token, h.cfg.TokenFile, h.cfg.TokenCredential)
	if err != nil {
		return err
	}
	h.c.Scrub.Set("token", v)
	h.auth.set(v)
	return nil
}

// tokenAuth is the private app token as a bearer token. It does not
// change by asking again, so a refusal is not retried here: the worker's
// Refresh re-reads it.
type tokenAuth struct{ v atomic.Value }

func (t *tokenAuth) set(v string) { t.v.Store(v) }

func (t *tokenAuth) Authorize(_ context.Context, req *http.Request) (bool, error) {
	req.Header.Set("Authorization", "Bearer "+t.v.Load().(string))
	return true, nil
}

func (t *tokenAuth) Refused(*http.Request) {}

// hsError is HubSpot's error body (the SDK's Error model: message,
// correlationId, category, subCategory, errors[], context) and, for 429,
// the rate-limit fields (API usage guidelines: errorType RATE_LIMIT and
// policyName DAILY, TEN_SECONDLY_ROLLING or SECONDLY).
type hsError struct {
	Status     string `json:"status"`
	Message    string `json:"message"`
	Category   string `json:"category"`
	ErrorType  string `json:"errorType"`
	PolicyName string `json:"policyName"`
	Errors     []struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	} `json:"errors"`
}

// Waits per rate-limit policy. HubSpot sends no Retry-After; the rolling
// window's length comes in X-HubSpot-RateLimit-Interval-Milliseconds. The
// daily limit resets at midnight in the account's time zone, which the
// answer does not give: retried hourly.
const (
	tenSecondlyWait = 10 * time.Second
	secondlyWait    = time.Second
	dailyWait       = time.Hour
)

func decodeError(r *rest.Response) rest.Failure {
	var e hsError
	if json.Unmarshal(r.Body, &e) != nil {
		return rest.Failure{}
	}
	f := rest.Failure{Code: rest.Truncate(rest.Printable([]byte(e.Category)), 64), Message: e.Message}
	if e.ErrorType == "RATE_LIMIT" || r.Status == http.StatusTooManyRequests {
		f.Class, f.Throttled = rest.Retry, true
		f.Code = strings.TrimSpace("RATE_LIMIT " + rest.Truncate(rest.Printable([]byte(e.PolicyName)), 32))
		switch e.PolicyName {
		case "DAILY":
			f.After = dailyWait
		case "SECONDLY":
			f.After = secondlyWait
		default:
			f.After = tenSecondlyWait
			if ms, err := strconv.Atoi(r.Header.Get("X-HubSpot-RateLimit-Interval-Milliseconds")); err == nil && ms > 0 && ms <= 3_600_000 {
				f.After = time.Duration(ms) * time.Millisecond
			}
		}
		return f
	}
	switch e.Category {
	case "INVALID_AUTHENTICATION", "EXPIRED_AUTHENTICATION":
		f.Class = rest.Unauthorized
	}
	if len(e.Errors) > 0 && e.Errors[0].Code != "" {
		f.Code += " " + rest.Truncate(rest.Printable([]byte(e.Errors[0].Code)), 64)
	}
	return f
}
