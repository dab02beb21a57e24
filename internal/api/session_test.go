package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/secret"
)

func login(t *testing.T, m http.Handler, body string) (*httptest.ResponseRecorder, *http.Cookie) {
	t.Helper()
	req := httptest.NewRequest("POST", "/api/session", strings.NewReader(body))
	w := httptest.NewRecorder()
	m.ServeHTTP(w, req)
	for _, c := range w.Result().Cookies() {
		if c.Name == api.SessionCookie {
			return w, c
		}
	}
	return w, nil
}

func withCookie(m http.Handler, method, target string, c *http.Cookie) int {
	req := httptest.NewRequest(method, target, nil)
	req.AddCookie(c)
	w := httptest.NewRecorder()
	m.ServeHTTP(w, req)
	return w.Code
}

// A browser posts its token once and is then known by an HttpOnly,
// SameSite=Strict cookie (Secure over TLS); logging out, rotating the
// token and time all end the session.
func TestSessionCookie(t *testing.T) {
	now := time.Date(2030, 1, 2, 8, 0, 0, 0, time.UTC)
	auth := api.NewTokens(api.TokenSet{Admin: adminToken, Agents: map[string]secret.Secret{"101": aliceToken}},
		api.TokenOptions{Loopback: true, Secure: true, Now: func() time.Time { return now }})
	m := newMux(auth)

	if w, c := login(t, m, `{"token": "wrong-token-0123456789"}`); w.Code != 401 || c != nil {
		t.Fatalf("wrong token: %d, cookie %v", w.Code, c)
	}
	if w, _ := login(t, m, `not json`); w.Code != 400 {
		t.Fatalf("not JSON: %d", w.Code)
	}
	w, c := login(t, m, `{"token": "`+aliceToken+`"}`)
	if w.Code != 200 || c == nil {
		t.Fatalf("login: %d %q", w.Code, w.Body.String())
	}
	if !strings.Contains(w.Body.String(), `"role": "agent"`) || !strings.Contains(w.Body.String(), `"user": "101"`) {
		t.Errorf("login answers %s, want the principal", w.Body.String())
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || !c.Secure || c.Path != "/" {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Secure, Path=/", c)
	}
	if strings.Contains(c.Value, aliceToken) {
		t.Error("the cookie carries the token itself")
	}
	if code := withCookie(m, "GET", "/api/live?user=101", c); code != 200 {
		t.Errorf("own stream with the cookie: %d", code)
	}
	if code := withCookie(m, "GET", "/api/live?user=102", c); code != 403 {
		t.Errorf("another user's stream with the cookie: %d", code)
	}
	if code := withCookie(m, "GET", "/api/integrations", c); code != 403 {
		t.Errorf("an admin route with an agent's cookie: %d", code)
	}
	// A bearer token, when sent, is what counts.
	req := httptest.NewRequest("GET", "/api/live?user=101", nil)
	req.AddCookie(c)
	req.Header.Set("Authorization", "Bearer wrong-token-0123456789")
	rw := httptest.NewRecorder()
	if m.ServeHTTP(rw, req); rw.Code != 401 {
		t.Errorf("wrong bearer with a good cookie: %d", rw.Code)
	}

	// Expiry, by the injected clock.
	now = now.Add(api.SessionLifetime + time.Second)
	if code := withCookie(m, "GET", "/api/live?user=101", c); code != 401 {
		t.Errorf("expired session: %d", code)
	}

	// Rotation: the session of a token no longer configured ends.
	_, c = login(t, m, `{"token": "`+aliceToken+`"}`)
	auth.Set(api.TokenSet{Admin: adminToken, Agents: map[string]secret.Secret{"101": "alice-new-token-0123456789"}})
	if code := withCookie(m, "GET", "/api/live?user=101", c); code != 401 {
		t.Errorf("session of a replaced token: %d", code)
	}

	// Logout.
	_, c = login(t, m, `{"token": "`+adminToken+`"}`)
	if code := withCookie(m, "GET", "/api/integrations", c); code != 200 {
		t.Fatalf("admin cookie: %d", code)
	}
	req = httptest.NewRequest("DELETE", "/api/session", nil)
	req.AddCookie(c)
	rw = httptest.NewRecorder()
	m.ServeHTTP(rw, req)
	cleared := rw.Result().Cookies()
	if rw.Code != 204 || len(cleared) != 1 || cleared[0].MaxAge >= 0 {
		t.Errorf("logout: %d %+v", rw.Code, cleared)
	}
	if code := withCookie(m, "GET", "/api/integrations", c); code != 401 {
		t.Errorf("after logout: %d", code)
	}
}

// Every configured token is told apart, and nothing near one is taken
// for it.
func TestTokensMatchExactly(t *testing.T) {
	auth := tokens(false, true)
	for token, want := range map[string]api.Principal{
		adminToken:    {Role: api.Admin, Name: "admin"},
		dialplanToken: {Role: api.Dialplan, Name: "asterisk"},
		aliceToken:    {Role: api.Agent, User: "101", Name: "user 101"},
		bobToken:      {Role: api.Agent, User: "102", Name: "user 102"},
	} {
		for _, h := range []string{"Bearer " + token, "bearer " + token} {
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Authorization", h)
			if p, err := auth.Authenticate(req); err != nil || p != want {
				t.Errorf("%s: %+v %v, want %+v", h, p, err, want)
			}
		}
	}
	for _, h := range []string{"Bearer " + adminToken[:len(adminToken)-1], "Bearer " + adminToken + "x", "Basic " + adminToken, adminToken, "Bearer "} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", h)
		if p, err := auth.Authenticate(req); err != api.ErrUnauthenticated {
			t.Errorf("%q: %+v %v, want ErrUnauthenticated", h, p, err)
		}
	}
	if p, err := auth.Authenticate(httptest.NewRequest("GET", "/", nil)); err != nil || p != (api.Principal{}) {
		t.Errorf("no credential: %+v %v", p, err)
	}
	if auth.Open(api.Dialplan) || auth.Open(api.Agent) || auth.Open(api.Admin) {
		t.Error("a route is open though every token is configured")
	}
	loop := tokens(true, false)
	if !loop.Open(api.Dialplan) || loop.Open(api.Agent) || loop.Open(api.Admin) {
		t.Error("on loopback without a dialplan token only the dialplan routes are open")
	}
	if tokens(false, false).Open(api.Dialplan) {
		t.Error("off loopback the dialplan routes are open")
	}
}
