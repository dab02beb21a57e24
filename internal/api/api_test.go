package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/secret"
)

// A route cannot be added without a role.
func TestRouteNeedsRole(t *testing.T) {
	for name, register := range map[string]func(m *api.Mux){
		"zero role":      func(m *api.Mux) { m.HandleFunc("GET /x", 0, func(http.ResponseWriter, *http.Request) {}) },
		"unknown role":   func(m *api.Mux) { m.HandleFunc("GET /x", api.Admin+1, func(http.ResponseWriter, *http.Request) {}) },
		"no role at all": func(m *api.Mux) { m.HandleScoped("GET /x", nil, http.NotFoundHandler()) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("registered without a role")
				}
			}()
			register(api.NewMux(nil))
		})
	}
}

// The tokens of the tests: one per role, and a second agent.
const (
	adminToken    = "admin-token-0123456789abcdef"
	dialplanToken = "dialplan-token-0123456789abcdef"
	aliceToken    = "alice-token-0123456789abcdef" // user 101
	bobToken      = "bob-token-0123456789abcdef"   // user 102
)

func tokens(loopback, dialplan bool) *api.Tokens {
	set := api.TokenSet{Admin: adminToken, Agents: map[string]secret.Secret{"101": aliceToken, "102": bobToken}}
	if dialplan {
		set.Dialplan = []api.NamedToken{{Name: "asterisk", Token: dialplanToken}}
	}
	return api.NewTokens(set, api.TokenOptions{Loopback: loopback})
}

// closedLive ends every stream at once (its listener is "dropped"), so
// that a test's request to /api/live returns.
type closedLive struct{}

func (closedLive) Subscribe(string) (<-chan api.LiveEvent, func()) {
	ch := make(chan api.LiveEvent)
	close(ch)
	return ch, func() {}
}

func newMux(auth api.Authorizer) *api.Mux {
	return api.New(api.Deps{Auth: auth, Ready: func() []api.Check { return nil }, Metrics: http.NotFoundHandler(),
		Live: closedLive{}, Operations: api.NewOperations(context.Background(), nil)})
}

func do(m http.Handler, method, target, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	m.ServeHTTP(w, req)
	return w
}

// The callers the auth table tries on every route.
var callers = []struct{ name, token string }{
	{"nobody", ""},
	{"wrong token", "not-a-token-of-this-daemon"},
	{"dialplan", dialplanToken},
	{"agent 101", aliceToken},
	{"admin", adminToken},
}

// expect is what each caller gets from a route of a kind: "ok" (the
// handler answers), 401 or 403. closed is a listener with every token
// configured (off loopback, or on it with a dialplan token); open is
// loopback without a dialplan token.
var expect = map[string]map[string][2]string{
	//            caller:      closed, open
	"public":    {"nobody": {"ok", "ok"}, "wrong token": {"ok", "ok"}, "dialplan": {"ok", "ok"}, "agent 101": {"ok", "ok"}, "admin": {"ok", "ok"}},
	"dialplan":  {"nobody": {"401", "ok"}, "wrong token": {"401", "401"}, "dialplan": {"ok", "401"}, "agent 101": {"403", "403"}, "admin": {"ok", "ok"}},
	"own agent": {"nobody": {"401", "401"}, "wrong token": {"401", "401"}, "dialplan": {"403", "401"}, "agent 101": {"ok", "ok"}, "admin": {"ok", "ok"}},
	"other":     {"nobody": {"401", "401"}, "wrong token": {"401", "401"}, "dialplan": {"403", "401"}, "agent 101": {"403", "403"}, "admin": {"ok", "ok"}},
	"admin":     {"nobody": {"401", "401"}, "wrong token": {"401", "401"}, "dialplan": {"403", "401"}, "agent 101": {"403", "403"}, "admin": {"ok", "ok"}},
	// GET /api/session: anyone with a valid credential learns who it is.
	"self": {"nobody": {"401", "401"}, "wrong token": {"401", "401"}, "dialplan": {"ok", "401"}, "agent 101": {"ok", "ok"}, "admin": {"ok", "ok"}},
}

// routes samples every route of api.New: the requests tried, each with
// its kind in the table above. The test fails when api.New has a route
// this list does not know, so a new route gets its auth test.
var routes = map[string][]struct{ method, target, kind string }{
	"GET /healthz":                           {{"GET", "/healthz", "public"}},
	"GET /readyz":                            {{"GET", "/readyz", "public"}},
	"GET /metrics":                           {{"GET", "/metrics", "public"}},
	"POST /api/session":                      {{"POST", "/api/session", "public"}},
	"DELETE /api/session":                    {{"DELETE", "/api/session", "public"}},
	"GET /api/lookup":                        {{"GET", "/api/lookup?number=0401234567", "dialplan"}},
	"GET /api/callername":                    {{"GET", "/api/callername?number=0401234567", "dialplan"}},
	"GET /api/live":                          {{"GET", "/api/live?user=101", "own agent"}, {"GET", "/api/live?user=102", "other"}, {"GET", "/api/live", "admin"}},
	"GET /api/integrations":                  {{"GET", "/api/integrations", "admin"}},
	"POST /api/integrations/{name}/{action}": {{"POST", "/api/integrations/dynamics/sync", "admin"}},
	"POST /api/users/sync":                   {{"POST", "/api/users/sync", "admin"}},
	"GET /api/operations/{id}":               {{"GET", "/api/operations/0123", "admin"}},
	"GET /api/queue":                         {{"GET", "/api/queue", "admin"}},
	"GET /api/queue/dead":                    {{"GET", "/api/queue/dead?connector=hook", "admin"}},
	"POST /api/queue/retry":                  {{"POST", "/api/queue/retry?id=deadbeef", "admin"}, {"POST", "/api/queue/retry?all=true", "admin"}},
	"POST /api/queue/purge":                  {{"POST", "/api/queue/purge", "admin"}},
	"GET /api/route":                         {{"GET", "/api/route?anum=0401234567&bnum=0981234567", "dialplan"}},
	"POST /api/route":                        {{"POST", "/api/route", "dialplan"}},
	"POST /api/calls/{call_id}/disposition":  {{"POST", "/api/calls/1763741470.0/disposition", "dialplan"}},
	"POST /api/callbacks":                    {{"POST", "/api/callbacks", "dialplan"}},
	"GET /api/session":                       {{"GET", "/api/session", "self"}},
	"GET /agent":                             {{"GET", "/agent", "public"}},
	"GET /agent/{file}":                      {{"GET", "/agent/agent.js", "public"}},
	"GET /api/agents":                        {{"GET", "/api/agents", "admin"}, {"GET", "/api/agents?user=101", "own agent"}, {"GET", "/api/agents?user=102", "other"}},
	"GET /api/agents/{extension}/events":     {{"GET", "/api/agents/101/events", "own agent"}, {"GET", "/api/agents/102/events", "other"}},
	"POST /api/agents/{extension}/calls":     {{"POST", "/api/agents/101/calls", "own agent"}, {"POST", "/api/agents/102/calls", "other"}},
}

// Every route, every role: who gets in, who gets 401, who 403.
func TestAuthEveryRouteAndRole(t *testing.T) {
	for mode, auth := range map[int]*api.Tokens{0: tokens(false, true), 1: tokens(true, false)} {
		m := newMux(auth)
		if mode == 1 {
			// On loopback without a dialplan token there is no dialplan
			// token to try: "dialplan" sends a token nobody has.
			auth.Set(api.TokenSet{Admin: adminToken, Agents: map[string]secret.Secret{"101": aliceToken, "102": bobToken}})
		}
		for _, r := range m.Routes() {
			samples, ok := routes[r[0]]
			if !ok {
				t.Errorf("route %s (%s) has no auth test: add it to routes", r[0], r[1])
				continue
			}
			for _, s := range samples {
				for _, c := range callers {
					want := expect[s.kind][c.name][mode]
					w := do(m, s.method, s.target, c.token)
					got := "ok"
					if w.Code == 401 || w.Code == 403 {
						got = map[int]string{401: "401", 403: "403"}[w.Code]
					}
					if got != want {
						t.Errorf("mode %d: %s %s as %s: %d %q, want %s", mode, s.method, s.target, c.name, w.Code, strings.TrimSpace(w.Body.String()), want)
					}
					if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
						t.Errorf("%s %s as %s: 401 without WWW-Authenticate", s.method, s.target, c.name)
					}
				}
			}
		}
	}
}

// An agent route naming its user in the path ({extension}) is that user's
// only; the admin's too.
func TestAgentRouteByExtension(t *testing.T) {
	m := api.NewMux(tokens(true, false))
	m.HandleFunc("GET /api/users/{extension}/calls", api.Agent, func(w http.ResponseWriter, r *http.Request) {
		p, _ := api.PrincipalFrom(r.Context())
		w.Write([]byte(p.Name))
	})
	for _, tt := range []struct {
		target, token string
		code          int
		body          string
	}{
		{"/api/users/101/calls", aliceToken, 200, "user 101"},
		{"/api/users/102/calls", aliceToken, 403, "another user's"},
		{"/api/users/102/calls", bobToken, 200, "user 102"},
		{"/api/users/102/calls", adminToken, 200, "admin"},
		{"/api/users/102/calls", "", 401, "unauthenticated"},
	} {
		w := do(m, "GET", tt.target, tt.token)
		if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.body) {
			t.Errorf("%s with %q: %d %q, want %d %q", tt.target, tt.token, w.Code, w.Body.String(), tt.code, tt.body)
		}
	}
}

// A health route left out of http.public needs a dialplan or the admin
// token.
func TestHealthNotPublic(t *testing.T) {
	m := api.New(api.Deps{Auth: tokens(false, true), Public: func(r string) bool { return r == "healthz" },
		Ready: func() []api.Check { return nil }, Metrics: http.NotFoundHandler()})
	for _, tt := range []struct {
		target, token string
		code          int
	}{
		{"/healthz", "", 200},
		{"/readyz", "", 401},
		{"/readyz", dialplanToken, 200},
		{"/readyz", adminToken, 200},
		{"/readyz", aliceToken, 403},
		{"/metrics", "", 401},
		{"/metrics", dialplanToken, 404}, // through to the (not found) metrics handler
	} {
		if w := do(m, "GET", tt.target, tt.token); w.Code != tt.code {
			t.Errorf("%s with %q: %d, want %d", tt.target, tt.token, w.Code, tt.code)
		}
	}
}

// The principal reaches the handler in the request's context.
func TestPrincipalInContext(t *testing.T) {
	m := api.NewMux(tokens(false, true))
	var got []api.Principal
	m.HandleFunc("GET /d", api.Dialplan, func(_ http.ResponseWriter, r *http.Request) {
		p, ok := api.PrincipalFrom(r.Context())
		if ok {
			got = append(got, p)
		}
	})
	do(m, "GET", "/d", dialplanToken)
	do(m, "GET", "/d", adminToken)
	want := []api.Principal{{Role: api.Dialplan, Name: "asterisk"}, {Role: api.Admin, Name: "admin"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("principals %+v, want %+v", got, want)
	}
}

// A token is refused in the URL, whatever the route.
func TestTokenNotInURL(t *testing.T) {
	m := newMux(tokens(true, false))
	for _, target := range []string{"/api/live?user=101&token=" + aliceToken, "/api/lookup?number=1&access_token=" + dialplanToken} {
		if w := do(m, "GET", target, ""); w.Code != 400 || !strings.Contains(w.Body.String(), "never accepted in the URL") {
			t.Errorf("%s: %d %q", target, w.Code, w.Body.String())
		}
	}
}
