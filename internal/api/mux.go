package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
)

// Mux is the API's router. Every route goes in through Handle or
// HandleScoped, which take its role, and is served through the guard.
type Mux struct {
	mux    *http.ServeMux
	auth   Authorizer
	limits atomic.Pointer[Limits]
	// streams counts the open live streams against the limits.
	streams streams
	log     zerolog.Logger

	mu     sync.Mutex
	routes map[string]string // pattern -> role, for Routes
}

// NewMux returns an empty mux checking access with auth (nil: every
// request is refused but the public ones).
func NewMux(auth Authorizer) *Mux {
	if auth == nil {
		auth = denyAll{}
	}
	m := &Mux{mux: http.NewServeMux(), auth: auth, routes: map[string]string{}, log: zerolog.Nop()}
	m.SetLimits(DefaultLimits())
	return m
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

// guard is the one middleware every route passes through: the body limit,
// then who the caller is, then whether their role may use the route.
func (m *Mux) guard(roleOf func(*http.Request) Role, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lim := m.Limits()
		if r.ContentLength > lim.MaxBodyBytes {
			http.Error(w, fmt.Sprintf("request body larger than %d bytes (http.limits.max_body_bytes)", lim.MaxBodyBytes), http.StatusRequestEntityTooLarge)
			return
		}
		if r.Body != http.NoBody { // a request without a body has nothing to bound
			r.Body = http.MaxBytesReader(w, r.Body, lim.MaxBodyBytes)
		}
		if mayHoldToken(r.URL.RawQuery) && urlHasToken(r.URL.Query()) {
			// A token in a URL ends up in proxies' and browsers' logs.
			http.Error(w, "a token is never accepted in the URL: send Authorization: Bearer <token>, or POST it to /api/session for a cookie", http.StatusBadRequest)
			return
		}
		role := roleOf(r)
		if !role.valid() {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		var (
			p      Principal
			authed bool
			err    error
		)
		if role != Public {
			p, err = m.auth.Authenticate(r)
			authed = err == nil && p.Role.valid()
		}
		if err == nil {
			sub := ""
			if role == Agent { // only an agent route is about a user
				sub = subject(r)
			}
			err = authorize(p, authed, role, sub, m.auth.Open(role))
		}
		switch {
		case err == nil:
			if authed {
				r = r.WithContext(WithPrincipal(r.Context(), p))
			}
			h.ServeHTTP(w, r)
		case errors.Is(err, ErrForbidden):
			m.log.Info().Str("token", p.Name).Str("route", r.Pattern).Str("role", role.String()).Msg("api: refused, the token's role does not allow this route")
			if role == Agent && p.Role == Agent {
				http.Error(w, "forbidden: another user's calls", http.StatusForbidden)
				return
			}
			http.Error(w, "forbidden: this needs the "+role.String()+" role", http.StatusForbidden)
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="callbridge"`)
			http.Error(w, "unauthenticated: send Authorization: Bearer <token> (http.* and users[].token_* in the config)", http.StatusUnauthorized)
		}
	})
}

// mayHoldToken reports whether a URL's raw query could have a key
// "token" or "access_token" once unescaped: only then is it parsed to be
// sure, so that the dialplan's requests are not parsed for it each time.
// A key without '%' unescapes to itself with '+' as a space, so it is
// one of them only if it holds "token" as it is.
func mayHoldToken(raw string) bool {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		key, _, _ := strings.Cut(pair, "=")
		if strings.Contains(key, "token") || strings.IndexByte(key, '%') >= 0 {
			return true
		}
	}
	return false
}

func urlHasToken(q url.Values) bool { return q.Has("token") || q.Has("access_token") }

// subject is the user an agent route is about: its {extension}, or the
// ?user= of /api/live.
func subject(r *http.Request) string {
	if ext := r.PathValue("extension"); ext != "" {
		return ext
	}
	return r.URL.Query().Get("user")
}

// SetLogger sets where refusals are logged (the token's name, never the
// token).
func (m *Mux) SetLogger(log zerolog.Logger) { m.log = log }

// denyAll is the Authorizer of a mux given none: no credential is valid.
type denyAll struct{}

func (denyAll) Authenticate(r *http.Request) (Principal, error) {
	if r.Header.Get("Authorization") != "" {
		return Principal{}, ErrUnauthenticated
	}
	return Principal{}, nil
}
func (denyAll) Open(Role) bool { return false }

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
