package api

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
)

// Mux is the API's router. Every route goes in through Handle or
// HandleScoped, which take its role, and is served through the
// Authorizer.
type Mux struct {
	mux  *http.ServeMux
	auth Authorizer

	mu     sync.Mutex
	routes map[string]string // pattern -> role, for Routes
}

// NewMux returns an empty mux checking access with auth (nil: AllowAll).
func NewMux(auth Authorizer) *Mux {
	if auth == nil {
		auth = AllowAll{}
	}
	return &Mux{mux: http.NewServeMux(), auth: auth, routes: map[string]string{}}
}

// Handle registers h for pattern (net/http's "METHOD /path"), callable by
// role. It panics when role is not one of the roles: a route without a
// role is a programming error, caught by the first test that builds the
// mux.
func (m *Mux) Handle(pattern string, role Role, h http.Handler) {
	if !role.valid() {
		panic(fmt.Sprintf("api: route %q registered without a role", pattern))
	}
	m.HandleScoped(pattern, func(*http.Request) Role { return role }, h)
	m.mu.Lock()
	m.routes[pattern] = role.String()
	m.mu.Unlock()
}

// HandleFunc is Handle for a function.
func (m *Mux) HandleFunc(pattern string, role Role, h http.HandlerFunc) {
	m.Handle(pattern, role, h)
}

// HandleScoped registers a route whose role depends on the request: one
// user's live calls are an agent's, everyone's an admin's. roleOf must
// give a role for every request; a request it gives none for is refused.
func (m *Mux) HandleScoped(pattern string, roleOf func(*http.Request) Role, h http.Handler) {
	if roleOf == nil {
		panic(fmt.Sprintf("api: route %q registered without a role", pattern))
	}
	m.mu.Lock()
	m.routes[pattern] = "scoped"
	m.mu.Unlock()
	m.mux.Handle(pattern, m.guard(roleOf, h))
}

// guard is the one middleware every route passes through.
func (m *Mux) guard(roleOf func(*http.Request) Role, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		role := roleOf(r)
		if !role.valid() {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		switch err := m.auth.Authorize(r, role); {
		case err == nil:
			h.ServeHTTP(w, r)
		case errors.Is(err, ErrUnauthenticated):
			w.Header().Set("WWW-Authenticate", `Bearer realm="callbridge"`)
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
		default:
			http.Error(w, "forbidden: this needs the "+role.String()+" role", http.StatusForbidden)
		}
	})
}

// ServeHTTP implements http.Handler.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// Routes lists every registered pattern with its role ("scoped" when it
// depends on the request), sorted by pattern.
func (m *Mux) Routes() [][2]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([][2]string, 0, len(m.routes))
	for p, r := range m.routes {
		out = append(out, [2]string{p, r})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}
