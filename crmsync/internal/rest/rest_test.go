package rest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync/crmerr"
)

func newClient(t *testing.T, h http.Handler) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	m, err := NewMetrics(nil, "test", "Test")
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{CRM: "test", Connector: "t", Metrics: m, Allowed: []string{srv.URL + "/api/"}}
	c.Init(2)
	return c, srv
}

func TestScrubber(t *testing.T) {
	s := &Scrubber{}
	s.Set("secret", "p@ss word+1", "abc")
	s.Set("token", "Bearer tok-1234567890")
	for _, in := range []string{"p@ss word+1", url.QueryEscape("p@ss word+1"), "tok-1234567890"} {
		if out := s.Replace("x " + in + " y"); strings.Contains(out, in) {
			t.Errorf("%q left in %q", in, out)
		}
	}
	if out := s.Replace("abc"); out != "abc" {
		t.Errorf("a 3-character value scrubbed ordinary text: %q", out)
	}
	s.Set("token", "Bearer tok-new-0987654321")
	if out := s.Replace("tok-1234567890"); out != "tok-1234567890" {
		t.Errorf("a replaced token is still scrubbed: %q", out)
	}
}

// A refused token is dropped and fetched again once; a fresh token that
// is refused is not retried.
func TestDoRefreshesARefusedTokenOnce(t *testing.T) {
	var calls, fetches atomic.Int32
	c, srv := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer t2" {
			w.WriteHeader(401)
			return
		}
		io.WriteString(w, "ok")
	}))
	c.Auth = &Tokens{Scheme: "Bearer", Scrub: c.Scrub, Fetch: func(context.Context) (Token, error) {
		n := fetches.Add(1)
		return Token{Value: "t" + string(rune('0'+n))}, nil
	}}
	if r, err := c.Do(context.Background(), "op", "GET", srv.URL+"/api/x", nil, nil); err != nil || r.Status != 401 {
		t.Fatalf("a fresh token refused: %v %v", r, err) // t1 was fresh: not retried
	}
	r, err := c.Do(context.Background(), "op", "GET", srv.URL+"/api/x", nil, nil)
	if err != nil || r.Status != 200 || fetches.Load() != 2 {
		t.Fatalf("after the refusal: %v %v, %d fetches", r, err, fetches.Load())
	}
	c.Auth.(*Tokens).cur = &Token{Value: "stale"}
	if r, err := c.Do(context.Background(), "op", "GET", srv.URL+"/api/x", nil, nil); err != nil || r.Status != 401 || fetches.Load() != 3 {
		t.Fatalf("a cached token refused: %v %v, %d fetches", r, err, fetches.Load())
	}
	if _, err := c.Do(context.Background(), "op", "GET", "http://elsewhere.example/api/x", nil, nil); !crmerr.IsPermanent(err) {
		t.Errorf("a URL outside the API: %v", err)
	}
}

func TestTokensExpire(t *testing.T) {
	now := time.Unix(1000, 0)
	n := 0
	tk := &Tokens{Now: func() time.Time { return now }, Fetch: func(context.Context) (Token, error) {
		n++
		return Token{Value: "v", Expiry: now.Add(time.Hour)}, nil
	}}
	for range 3 {
		tk.Get(context.Background())
	}
	now = now.Add(59*time.Minute + 30*time.Second) // within a minute of expiry
	tk.Get(context.Background())
	if n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}

func TestFailClasses(t *testing.T) {
	c, _ := newClient(t, http.NotFoundHandler())
	c.Scrub.Set("s", "hunter2-secret")
	tests := []struct {
		status int
		f      Failure
		check  func(error) bool
	}{
		{403, Failure{Code: "LIMIT", Class: Retry, After: time.Minute}, func(e error) bool { d, _ := crmerr.RetryAfter(e); return !crmerr.IsPermanent(e) && d == time.Minute }},
		{200, Failure{Code: "ERR"}, crmerr.IsPermanent},
		{500, Failure{Class: Permanent}, crmerr.IsPermanent},
		{400, Failure{Class: Unauthorized}, crmerr.IsUnauthorized},
		{400, Failure{Code: "X", Message: "echo hunter2-secret"}, func(e error) bool { return crmerr.IsPermanent(e) && !strings.Contains(e.Error(), "hunter2") }},
	}
	for _, tt := range tests {
		err := c.FailWith("op", &Response{Status: tt.status, Header: http.Header{}}, tt.f)
		if !tt.check(err) {
			t.Errorf("%d %+v: %v", tt.status, tt.f, err)
		}
	}
}

func TestRequestToken(t *testing.T) {
	var answer atomic.Value
	c, srv := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answer.Load().([2]string)
		w.Header().Set("Content-Type", "application/json")
		if a[0] == "400" {
			w.WriteHeader(400)
		}
		io.WriteString(w, a[1])
	}))
	try := func(status, body string) (Token, error) {
		answer.Store([2]string{status, body})
		return c.RequestToken(context.Background(), srv.URL+"/token", url.Values{"client_secret": {"sec-value-1"}}, nil)
	}
	tok, err := try("200", `{"access_token":"at-1","expires_in":3600,"api_domain":"https://www.zohoapis.eu"}`)
	if err != nil || tok.Value != "at-1" || tok.Expiry.IsZero() || tok.APIDomain == "" {
		t.Fatalf("%+v %v", tok, err)
	}
	if tok, _ := try("200", `{"access_token":"at-2","expires_in":"3600"}`); tok.Expiry.IsZero() {
		t.Error("expires_in as a string")
	}
	if tok, _ := try("200", `{"access_token":"at-3"}`); !tok.Expiry.IsZero() {
		t.Error("no expires_in: valid until refused")
	}
	if _, err := try("200", `{"error":"invalid_code"}`); !crmerr.IsUnauthorized(err) {
		t.Errorf("an error with 200: %v", err)
	}
	if _, err := try("400", `{"error":"invalid_client","error_description":"bad sec-value-1"}`); !crmerr.IsUnauthorized(err) || strings.Contains(err.Error(), "sec-value-1") {
		t.Errorf("invalid_client: %v", err)
	}
	if _, err := try("400", `{"error":"invalid_request"}`); !crmerr.IsPermanent(err) {
		t.Errorf("invalid_request: %v", err)
	}
}

func TestConfigChecks(t *testing.T) {
	if n := CountSet(true, false, true); n != 2 {
		t.Errorf("CountSet(true, false, true) = %d", n)
	}
	for s, want := range map[string]bool{
		"https://example.my.salesforce.com": true, "http://127.0.0.1:8080/base": true,
		"example.com": false, "ftp://example.com": false, "https://": false,
		"https://user:pw@example.com": false, "https://example.com/?k=v": false, "%zz": false,
	} {
		if got := AbsURL(s); got != want {
			t.Errorf("AbsURL(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestHTTPClient(t *testing.T) {
	given := &http.Client{}
	if HTTPClient(given, time.Second) != given {
		t.Error("a given client not used")
	}
	c := HTTPClient(nil, 7*time.Second)
	tr, ok := c.Transport.(*http.Transport)
	if c.Timeout != 7*time.Second || !ok || tr == http.DefaultTransport || tr.MaxIdleConnsPerHost != 64 {
		t.Errorf("built client: timeout %v, transport %#v", c.Timeout, c.Transport)
	}
}
