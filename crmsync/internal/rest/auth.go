package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callbridge/callbridge/crmsync/crmerr"
)

// Token is an access token and what came with it.
type Token struct {
	Value  string
	Expiry time.Time // zero: until refused (Salesforce says nothing)
	// InstanceURL and APIDomain are where some CRMs say the API is
	// (Salesforce's instance_url, Zoho's api_domain).
	InstanceURL string
	APIDomain   string
	// Refresh is a new refresh token, for servers that rotate them.
	Refresh string
}

// Tokens is a cached token fetched on demand: when there is none, when it
// expires within a minute, or after it was refused. One fetch runs at a
// time; waiting for it honours the request's context.
type Tokens struct {
	// Fetch obtains a new token.
	Fetch func(ctx context.Context) (Token, error)
	// Scheme goes before the token in Authorization ("Bearer",
	// "Zoho-oauthtoken").
	Scheme string
	Scrub  *Scrubber
	Now    func() time.Time

	once sync.Once
	gate chan struct{}
	mu   sync.RWMutex
	cur  *Token
}

func (t *Tokens) init() {
	t.once.Do(func() {
		t.gate = make(chan struct{}, 1)
		if t.Now == nil {
			t.Now = time.Now
		}
	})
}

func (t *Tokens) valid(tok *Token) bool {
	return tok != nil && (tok.Expiry.IsZero() || t.Now().Add(time.Minute).Before(tok.Expiry))
}

// Get returns a usable token; fresh says this call fetched it.
func (t *Tokens) Get(ctx context.Context) (tok Token, fresh bool, err error) {
	t.init()
	t.mu.RLock()
	cur := t.cur
	t.mu.RUnlock()
	if t.valid(cur) {
		return *cur, false, nil
	}
	select {
	case t.gate <- struct{}{}:
	case <-ctx.Done():
		return Token{}, false, crmerr.Retryable(fmt.Errorf("waiting for a token: %w", ctx.Err()), 0)
	}
	defer func() { <-t.gate }()
	t.mu.RLock()
	cur = t.cur
	t.mu.RUnlock()
	if t.valid(cur) { // fetched by another request meanwhile
		return *cur, true, nil
	}
	nt, err := t.Fetch(ctx)
	if err != nil {
		return Token{}, false, err
	}
	t.mu.Lock()
	t.cur = &nt
	t.mu.Unlock()
	if t.Scrub != nil {
		t.Scrub.Set("token", nt.Value)
	}
	return nt, true, nil
}

// Authorize implements Authorizer.
func (t *Tokens) Authorize(ctx context.Context, req *http.Request) (bool, error) {
	tok, fresh, err := t.Get(ctx)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", t.Scheme+" "+tok.Value)
	return fresh, nil
}

// Refused implements Authorizer: the token on req is dropped, unless a
// newer one replaced it already.
func (t *Tokens) Refused(req *http.Request) {
	used := strings.TrimPrefix(req.Header.Get("Authorization"), t.Scheme+" ")
	t.Drop(used)
}

// Drop forgets the token if it is value ("" drops whatever is cached).
func (t *Tokens) Drop(value string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur != nil && (value == "" || t.cur.Value == value) {
		t.cur = nil
	}
}

// Static is a credential that never changes: an API or private-app token
// in a header (or, with Query, a query parameter).
type Static struct {
	Header string // "Authorization", "x-api-token"
	Value  string // "Bearer pat-…"
	Query  string // a query parameter name instead of a header
}

// Authorize implements Authorizer. A static credential is always "fresh":
// asking again would not change it.
func (s Static) Authorize(_ context.Context, req *http.Request) (bool, error) {
	if s.Query != "" {
		q := req.URL.Query()
		q.Set(s.Query, s.Value)
		req.URL.RawQuery = q.Encode()
		return true, nil
	}
	req.Header.Set(s.Header, s.Value)
	return true, nil
}

// Refused implements Authorizer.
func (Static) Refused(*http.Request) {}

// tokenAnswer is an OAuth 2.0 token answer (RFC 6749 5.1) or error
// (5.2), with the fields some CRMs add.
type tokenAnswer struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	InstanceURL string          `json:"instance_url"`  // Salesforce
	APIDomain   string          `json:"api_domain"`    // Zoho, Pipedrive
	Refresh     string          `json:"refresh_token"` // rotating servers
	Error       string          `json:"error"`
}

// credentialErrors are the OAuth error codes that say the credential
// itself is refused (RFC 6749 5.2; Zoho's invalid_code for a revoked
// refresh token): unauthorized, so the worker re-reads the secret once and
// then waits for an operator rather than dead-letter every activity.
var credentialErrors = map[string]bool{
	"invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"invalid_client_id": true, "invalid_code": true, "invalid_client_secret": true, "access_denied": true,
}

// RequestToken posts form to tokenURL and reads the token answer.
// Refused credentials are unauthorized; other refusals are classified by
// their status. Only the OAuth error code is quoted, since descriptions
// may echo the request. A token answer without expires_in is valid until
// refused.
func (c *Client) RequestToken(ctx context.Context, tokenURL string, form url.Values, hdr http.Header) (Token, error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return Token{}, crmerr.Permanent(c.Errorf("token: build request"))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "callbridge")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.HTTP.Do(req)
	c.Metrics.Duration.WithLabelValues(c.Connector, "token").Observe(time.Since(start).Seconds())
	if err != nil {
		c.Metrics.TokenRequests.WithLabelValues(c.Connector, "error").Inc()
		return Token{}, c.TransportError("token", err)
	}
	defer resp.Body.Close()
	var a tokenAnswer
	derr := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&a)
	r := &Response{Status: resp.StatusCode, Header: resp.Header}
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		c.Metrics.TokenRequests.WithLabelValues(c.Connector, strconv.Itoa(resp.StatusCode)).Inc()
		return Token{}, c.failure("token", r, Failure{Code: Printable([]byte(a.Error)), Class: Retry})
	case resp.StatusCode != http.StatusOK || a.Error != "" || derr != nil || a.AccessToken == "":
		// Zoho answers a refused grant with 200 and an error field.
		c.Metrics.TokenRequests.WithLabelValues(c.Connector, strconv.Itoa(resp.StatusCode)).Inc()
		code := Printable([]byte(a.Error))
		if code == "" {
			code = "no access_token in the answer"
		}
		f := Failure{Code: Truncate(code, 80)}
		if credentialErrors[a.Error] || r.Status == http.StatusOK {
			f.Class = Unauthorized // Zoho refuses with 200 and an error field
		}
		return Token{}, c.failure("token endpoint", r, f)
	}
	c.Metrics.TokenRequests.WithLabelValues(c.Connector, "ok").Inc()
	tok := Token{Value: a.AccessToken, InstanceURL: a.InstanceURL, APIDomain: a.APIDomain, Refresh: a.Refresh}
	if secs, err := strconv.ParseFloat(strings.Trim(string(a.ExpiresIn), `"`), 64); err == nil && secs > 0 {
		tok.Expiry = c.Now().Add(time.Duration(secs) * time.Second)
	}
	c.Scrub.Set("token", tok.Value)
	if tok.Refresh != "" {
		c.Scrub.Set("refresh_answer", tok.Refresh)
	}
	return tok, nil
}
