package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/callbridge/callbridge/internal/api"
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

// recorder is an Authorizer that remembers the role each request needed
// and refuses what it is told to.
type recorder struct {
	got    map[string]api.Role
	refuse map[api.Role]error
}

func (r *recorder) Authorize(req *http.Request, role api.Role) error {
	r.got[req.Method+" "+req.URL.Path+"?"+req.URL.RawQuery] = role
	return r.refuse[role]
}

// Every route of the API passes through the Authorizer with its role.
func TestEveryRouteHasItsRole(t *testing.T) {
	auth := &recorder{got: map[string]api.Role{}}
	m := api.New(api.Deps{Auth: auth, Ready: func() bool { return true }, Metrics: http.NotFoundHandler(), Live: noLive{}})
	want := map[string]api.Role{
		"GET /healthz?":                         api.Public,
		"GET /readyz?":                          api.Public,
		"GET /metrics?":                         api.Public,
		"GET /api/lookup?number=1":              api.Dialplan,
		"GET /api/callername?number=1":          api.Dialplan,
		"GET /api/live?user=101":                api.Agent,
		"GET /api/live?":                        api.Admin,
		"GET /api/integrations?":                api.Admin,
		"POST /api/integrations/dynamics/sync?": api.Admin,
		"POST /api/users/sync?":                 api.Admin,
		"GET /api/queue?":                       api.Admin,
		"GET /api/route?anum=1&bnum=2":          api.Dialplan,
		"POST /api/route?":                      api.Dialplan,
		"POST /api/calls/1.2/disposition?":      api.Dialplan,
		"POST /api/callbacks?":                  api.Dialplan,
		"GET /api/presence?user=101":            api.Agent,
	}
	for route := range want {
		method, target, _ := strings.Cut(route, " ")
		ctx, cancel := context.WithCancel(context.Background())
		req := httptest.NewRequestWithContext(ctx, method, strings.TrimSuffix(target, "?"), nil)
		if strings.Contains(target, "/api/live") {
			cancel() // the stream ends at once
		}
		m.ServeHTTP(httptest.NewRecorder(), req)
		cancel()
	}
	for route, role := range want {
		if got, ok := auth.got[route]; !ok || got != role {
			t.Errorf("%s: authorized as %v (seen %v), want %v", route, got, ok, role)
		}
	}
	if len(m.Routes()) != 15 {
		t.Errorf("%d routes registered, the test knows 15: %v", len(m.Routes()), m.Routes())
	}
}

// What the Authorizer refuses is not served: 401 without a credential,
// 403 with one that lacks the role.
func TestAuthorizerRefuses(t *testing.T) {
	auth := &recorder{got: map[string]api.Role{}, refuse: map[api.Role]error{api.Admin: api.ErrForbidden, api.Dialplan: api.ErrUnauthenticated}}
	m := api.New(api.Deps{Auth: auth, Ready: func() bool { return true }})
	for target, code := range map[string]int{"/api/integrations": 403, "/api/lookup?number=1": 401, "/healthz": 200} {
		w := httptest.NewRecorder()
		m.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		if w.Code != code {
			t.Errorf("%s: %d, want %d", target, w.Code, code)
		}
	}
}

type noLive struct{}

func (noLive) Subscribe(string) (<-chan api.LiveEvent, func()) {
	return make(chan api.LiveEvent), func() {}
}
