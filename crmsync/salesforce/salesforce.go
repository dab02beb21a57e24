package salesforce

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync/crmerr"
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

// Salesforce is the connector.
type Salesforce struct {
	name     string
	cfg      Config
	api      string // <url>/services/data/vXX.X/
	c        *rest.Client
	tokens   *rest.Tokens
	log      zerolog.Logger
	now      func() time.Time
	rec      phoneindex.Recognizer
	subjects *callinfo.Subjecter
	doubt    doubt.Tracker
	users    atomic.Pointer[usermap.Directory]

	mu     sync.RWMutex
	secret string          // client secret (client_credentials)
	key    *rsa.PrivateKey // JWT signing key (jwt_bearer)
}

// New checks cfg, reads the secret or key and returns the connector. No
// request is made until the first push.
func New(name string, cfg Config, opts Options) (*Salesforce, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Salesforce{
		name: name, cfg: cfg, api: cfg.URL + "/services/data/v" + cfg.APIVersion + "/",
		log: opts.Logger, now: opts.Now, rec: opts.Recognizer,
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.doubt.Now = s.now
	subj, err := cfg.Subjects.Compile()
	if err != nil {
		return nil, err
	}
	s.subjects = subj
	m, err := rest.NewMetrics(opts.Registerer, "salesforce", "Salesforce")
	if err != nil {
		return nil, err
	}
	hc := rest.HTTPClient(opts.Client, cfg.Timeout)
	s.c = &rest.Client{
		CRM: "salesforce", Connector: name, HTTP: hc, Decode: decodeError, Metrics: m,
		Scrub: &rest.Scrubber{}, Log: opts.Logger, Now: s.now,
		Allowed: []string{s.api},
		Headers: http.Header{"Accept": {"application/json"}},
	}
	s.c.Init(cfg.MaxConcurrency)
	s.tokens = &rest.Tokens{Fetch: s.fetchToken, Scheme: "Bearer", Scrub: s.c.Scrub, Now: s.now}
	s.c.Auth = s.tokens
	if err := s.loadSecret(); err != nil {
		return nil, err
	}
	return s, nil
}

// Name implements crmsync.Connector.
func (s *Salesforce) Name() string { return s.name }

// Refresh re-reads the secret or key and drops the token, so the next
// request authenticates afresh (a rotated secret file is picked up).
func (s *Salesforce) Refresh(context.Context) error {
	if err := s.loadSecret(); err != nil {
		return fmt.Errorf("salesforce %s: refresh: %w", s.name, err)
	}
	s.tokens.Drop("")
	return nil
}

func (s *Salesforce) loadSecret() error {
	if s.cfg.Auth == AuthJWTBearer {
		pem, err := secret.Load("private_key", s.cfg.PrivateKey, s.cfg.PrivateKeyFile, s.cfg.PrivateKeyCredential)
		if err != nil {
			return err
		}
		key, err := parseKey([]byte(pem))
		if err != nil {
			return fmt.Errorf("private_key: %w", err)
		}
		s.mu.Lock()
		s.key = key
		s.mu.Unlock()
		return nil
	}
	v, err := secret.Load("client_secret", s.cfg.ClientSecret, s.cfg.ClientSecretFile, s.cfg.ClientSecretCredential)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.secret = v
	s.mu.Unlock()
	s.c.Scrub.Set("client_secret", v)
	return nil
}

// fetchToken runs the configured OAuth flow. Salesforce's answer has no
// expires_in: the token is used until refused (INVALID_SESSION_ID, after
// the org's session timeout).
func (s *Salesforce) fetchToken(ctx context.Context) (rest.Token, error) {
	s.mu.RLock()
	sec, key := s.secret, s.key
	s.mu.RUnlock()
	form := url.Values{"client_id": {s.cfg.ClientID}}
	if s.cfg.Auth == AuthJWTBearer {
		assertion, err := jwtAssertion(key, s.cfg.ClientID, s.cfg.Username, s.cfg.Audience, s.now())
		if err != nil {
			return rest.Token{}, crmerr.Permanent(fmt.Errorf("salesforce %s: token: %w", s.name, err))
		}
		s.c.Scrub.Set("assertion", assertion)
		form = url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
	} else {
		form.Set("grant_type", "client_credentials")
		form.Set("client_secret", sec)
	}
	tok, err := s.c.RequestToken(ctx, s.cfg.TokenURL, form, nil)
	if err == nil {
		s.log.Debug().Str("connector", s.name).Msg("salesforce token fetched")
	}
	return tok, err
}

// sfError is one entry of Salesforce's error answer, a JSON array
// (REST API Developer Guide, "Status Codes and Error Responses").
type sfError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields"`
}

// Waits for the limits Salesforce reports without saying when they free
// up. The daily API request allowance is counted over a rolling 24 hours:
// pushing again within seconds only spends requests on refusals.
const (
	dailyLimitWait = 5 * time.Minute
)

// decodeError reads Salesforce's error shapes: the REST array of
// {message, errorCode, fields}, or an OAuth error.
func decodeError(r *rest.Response) rest.Failure {
	var list []sfError
	if json.Unmarshal(r.Body, &list) != nil || len(list) == 0 {
		var one sfError
		if json.Unmarshal(r.Body, &one) == nil && one.ErrorCode != "" {
			list = []sfError{one}
		} else {
			return rest.Failure{}
		}
	}
	return classify(list[0].ErrorCode, list[0].Message, list[0].Fields)
}

// classify turns a Salesforce error code into a failure. Codes whose
// HTTP status would mislead are overridden.
func classify(code, msg string, fields []string) rest.Failure {
	f := rest.Failure{Code: rest.Truncate(rest.Printable([]byte(code)), 64), Message: msg}
	if len(fields) > 0 {
		f.Message = strings.Join(fields, ",") + ": " + msg
	}
	switch code {
	case "REQUEST_LIMIT_EXCEEDED":
		// 403, yet a wait: the org's API allowance (TotalRequests) or its
		// concurrent long-running requests (ConcurrentPerOrgLongTxn).
		f.Class, f.Throttled = rest.Retry, true
		if !strings.Contains(msg, "Concurrent") {
			f.After = dailyLimitWait
		}
	case "INVALID_SESSION_ID":
		f.Class = rest.Unauthorized
	case "UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE":
		// Record locks and maintenance pass.
		f.Class = rest.Retry
	}
	return f
}
