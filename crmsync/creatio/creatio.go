package creatio

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
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
	// Recognizer supplies the caller's contact or account. Nil: numbers
	// only.
	Recognizer phoneindex.Recognizer
	// Client replaces the HTTP client built from Config (tests).
	Client *http.Client
	// Now replaces the clock (tests).
	Now func() time.Time
}

// Creatio is the connector.
type Creatio struct {
	name     string
	cfg      Config
	odata    string // <url><odata_path>/
	c        *rest.Client
	tokens   *rest.Tokens // oauth
	session  *session     // forms
	log      zerolog.Logger
	now      func() time.Time
	rec      phoneindex.Recognizer
	subjects *callinfo.Subjecter
	doubt    doubt.Tracker
	users    atomic.Pointer[usermap.Directory]

	mu     sync.RWMutex
	secret string // client secret or password
}

// New checks cfg, reads the secret and returns the connector. No request
// is made until the first push.
func New(name string, cfg Config, opts Options) (*Creatio, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	k := &Creatio{name: name, cfg: cfg, odata: cfg.URL + cfg.ODataPath + "/", log: opts.Logger, now: opts.Now, rec: opts.Recognizer}
	if k.now == nil {
		k.now = time.Now
	}
	k.doubt.Now = k.now
	subj, err := cfg.Subjects.Compile()
	if err != nil {
		return nil, err
	}
	k.subjects = subj
	m, err := rest.NewMetrics(opts.Registerer, "creatio", "Creatio")
	if err != nil {
		return nil, err
	}
	hc := rest.HTTPClient(opts.Client, cfg.Timeout)
	k.c = &rest.Client{
		CRM: "creatio", Connector: name, HTTP: hc, Decode: decodeError, Metrics: m,
		Scrub: &rest.Scrubber{}, Log: opts.Logger, Now: k.now, Allowed: []string{k.odata},
		Headers: http.Header{"Accept": {"application/json"}, "OData-Version": {"4.0"}},
	}
	k.c.Init(cfg.MaxConcurrency)
	if cfg.Auth == AuthForms {
		k.session = &session{k: k}
		k.c.Auth = k.session
	} else {
		k.tokens = &rest.Tokens{Fetch: k.fetchToken, Scheme: "Bearer", Scrub: k.c.Scrub, Now: k.now}
		k.c.Auth = k.tokens
	}
	if err := k.loadSecret(); err != nil {
		return nil, err
	}
	return k, nil
}

// Name implements crmsync.Connector.
func (k *Creatio) Name() string { return k.name }

// Refresh re-reads the secret and drops the token or session.
func (k *Creatio) Refresh(context.Context) error {
	if err := k.loadSecret(); err != nil {
		return fmt.Errorf("creatio %s: refresh: %w", k.name, err)
	}
	if k.tokens != nil {
		k.tokens.Drop("")
	} else {
		k.session.drop("")
	}
	return nil
}

func (k *Creatio) loadSecret() error {
	var v string
	var err error
	if k.cfg.Auth == AuthForms {
		v, err = secret.Load("password", k.cfg.Password, k.cfg.PasswordFile, k.cfg.PasswordCredential)
	} else {
		v, err = secret.Load("client_secret", k.cfg.ClientSecret, k.cfg.ClientSecretFile, k.cfg.ClientSecretCredential)
	}
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.secret = v
	k.mu.Unlock()
	k.c.Scrub.Set("secret", v)
	return nil
}

// fetchToken gets a token from the identity service (Creatio, "Set up
// OAuth 2.0 authorization for integrated applications": client
// credentials at <identity>/connect/token).
func (k *Creatio) fetchToken(ctx context.Context) (rest.Token, error) {
	k.mu.RLock()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {k.cfg.ClientID}, "client_secret": {k.secret}}
	k.mu.RUnlock()
	return k.c.RequestToken(ctx, k.cfg.IdentityURL+"/connect/token", form, nil)
}

// session is a forms login (Creatio, "Authentication": POST
// ServiceModel/AuthService.svc/Login sets the .ASPXAUTH, BPMCSRF and
// BPMLOADER cookies; every request then sends them and the BPMCSRF
// cookie's value in a BPMCSRF header).
type session struct {
	k    *Creatio
	gate sync.Mutex
	mu   sync.RWMutex
	jar  []*http.Cookie
	csrf string
}

func (s *session) current() ([]*http.Cookie, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.jar, s.csrf
}

func (s *session) drop(csrf string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if csrf == "" || s.csrf == csrf {
		s.jar, s.csrf = nil, ""
	}
}

// Authorize implements rest.Authorizer.
func (s *session) Authorize(ctx context.Context, req *http.Request) (bool, error) {
	jar, csrf := s.current()
	fresh := false
	if jar == nil {
		s.gate.Lock()
		if jar, csrf = s.current(); jar == nil {
			var err error
			if jar, csrf, err = s.login(ctx); err != nil {
				s.gate.Unlock()
				return false, err
			}
			fresh = true
		}
		s.gate.Unlock()
	}
	for _, c := range jar {
		req.AddCookie(c)
	}
	req.Header.Set("BPMCSRF", csrf)
	return fresh, nil
}

// Refused implements rest.Authorizer.
func (s *session) Refused(req *http.Request) { s.drop(req.Header.Get("BPMCSRF")) }

func (s *session) login(ctx context.Context) ([]*http.Cookie, string, error) {
	k := s.k
	k.mu.RLock()
	body, _ := json.Marshal(map[string]string{"UserName": k.cfg.Username, "UserPassword": k.secret})
	k.mu.RUnlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.cfg.URL+"/ServiceModel/AuthService.svc/Login", bytes.NewReader(body))
	if err != nil {
		return nil, "", crmerr.Permanent(k.c.Errorf("login: build request"))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "callbridge")
	start := time.Now()
	resp, err := k.c.HTTP.Do(req)
	k.c.Metrics.Duration.WithLabelValues(k.name, "token").Observe(time.Since(start).Seconds())
	if err != nil {
		k.c.Metrics.TokenRequests.WithLabelValues(k.name, "error").Inc()
		return nil, "", k.c.TransportError("login", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	k.c.Metrics.TokenRequests.WithLabelValues(k.name, strconv.Itoa(resp.StatusCode)).Inc()
	r := &rest.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if !r.OK() {
		return nil, "", k.c.Fail("login", r)
	}
	// A refused login is still 200: the body's Code says so (0 is success).
	var res struct {
		Code    int    `json:"Code"`
		Message string `json:"Message"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, "", k.c.Unexpected("login", err)
	}
	if res.Code != 0 {
		return nil, "", k.c.FailWith("login", &rest.Response{Status: http.StatusUnauthorized, Header: resp.Header},
			rest.Failure{Code: "login refused", Message: res.Message, Class: rest.Unauthorized})
	}
	var jar []*http.Cookie
	csrf := ""
	var secrets []string
	for _, c := range resp.Cookies() {
		jar = append(jar, &http.Cookie{Name: c.Name, Value: c.Value})
		secrets = append(secrets, c.Value)
		if c.Name == "BPMCSRF" {
			csrf = c.Value
		}
	}
	if csrf == "" {
		return nil, "", crmerr.Unauthorized(k.c.Errorf("login: no BPMCSRF cookie in the answer"))
	}
	k.c.Scrub.Set("session", secrets...)
	s.mu.Lock()
	s.jar, s.csrf = jar, csrf
	s.mu.Unlock()
	k.log.Debug().Str("connector", k.name).Msg("creatio session opened")
	return jar, csrf, nil
}

// decodeError reads OData's error shape, {"error": {"code", "message"}}.
func decodeError(r *rest.Response) rest.Failure {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(r.Body, &e) != nil {
		return rest.Failure{}
	}
	f := rest.Failure{Code: rest.Truncate(rest.Printable([]byte(e.Error.Code)), 64), Message: e.Error.Message}
	if strings.TrimSpace(f.Code) == "" {
		f.Code = ""
	}
	return f
}
