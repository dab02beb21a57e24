package api

import (
	"net/http"

	"github.com/rs/zerolog"
)

// Deps are what the routes answer from. Nil ones answer empty (no CRM
// configured: no integrations, nobody to sync, no queue).
type Deps struct {
	Auth Authorizer // nil: only public routes are served
	// Public tells whether a health route ("healthz", "readyz",
	// "metrics") needs no token; one that does takes the dialplan role.
	// Nil: all three are public.
	Public  func(route string) bool
	Ready   Readiness    // /readyz
	Metrics http.Handler // /metrics
	Limits  Limits       // zero: DefaultLimits
	// Logger gets refusals and the dialplan routes' lines (numbers
	// masked).
	Logger zerolog.Logger

	// Operations runs the long jobs requests start (syncs); nil: they
	// answer 503.
	Operations *Operations

	Lookup       Lookup
	Integrations Integrations
	Users        Users
	Queue        Queue
	Live         Live
	// Agents are the caller cards and presence; ClickToDial is how calls
	// are placed as configured now (nil, or giving nil: off), read per
	// request so that a reload changes it.
	Agents      Agents
	ClickToDial func() *ClickToDial

	Router    Router
	Wrapups   Wrapups
	Callbacks Callbacks
}

// New builds the mux with every route of the API. This is the one list of
// them, each with its role.
func New(d Deps) *Mux {
	m := NewMux(d.Auth)
	m.SetLogger(d.Logger)
	m.SetLimits(d.Limits)
	health := func(route string) func(*http.Request) Role {
		return func(*http.Request) Role {
			if d.Public == nil || d.Public(route) {
				return Public
			}
			return Dialplan
		}
	}
	m.HandleScoped("GET /healthz", health("healthz"), http.HandlerFunc(healthz))
	m.HandleScoped("GET /readyz", health("readyz"), readyz(d.Ready))
	if d.Metrics != nil {
		m.HandleScoped("GET /metrics", health("metrics"), d.Metrics)
	}
	m.HandleFunc("POST /api/session", Public, login(m.auth))
	m.HandleFunc("DELETE /api/session", Public, logout(m.auth))

	m.HandleFunc("GET /api/lookup", Dialplan, lookup(d.Lookup))
	m.HandleFunc("GET /api/callername", Dialplan, callerName(d.Lookup))
	m.HandleFunc("GET /api/route", Dialplan, routeGET(d.Router, d.Logger))
	m.HandleFunc("POST /api/route", Dialplan, routePOST(d.Router, d.Logger))
	m.HandleFunc("POST /api/calls/{call_id}/disposition", Dialplan, disposition(d.Wrapups, d.Logger))
	m.HandleFunc("POST /api/callbacks", Dialplan, callbacks(d.Callbacks, d.Logger))

	m.HandleScoped("GET /api/live", liveRole, m.live(d.Live))
	m.HandleFunc("GET /api/session", Public, whoami(m.auth)) // checks the credential itself
	m.Handle("GET /agent", Public, page())
	m.Handle("GET /agent/{file}", Public, page())
	m.HandleScoped("GET /api/agents", liveRole, presence(d.Agents))
	m.HandleFunc("GET /api/agents/{extension}/events", Agent, m.agentEvents(d.Agents))
	m.HandleFunc("POST /api/agents/{extension}/calls", Agent, m.dial(d.Agents, d.ClickToDial))

	m.HandleFunc("GET /api/integrations", Admin, integrations(d.Integrations))
	m.HandleFunc("POST /api/integrations/{name}/{action}", Admin, integrationAction(d.Integrations, d.Operations))
	m.HandleFunc("POST /api/users/sync", Admin, syncUsers(d.Users, d.Operations))
	m.HandleFunc("GET /api/operations/{id}", Admin, operation(d.Operations))
	m.HandleFunc("GET /api/queue", Admin, queueStats(d.Queue))
	m.HandleFunc("GET /api/queue/dead", Admin, queueDead(d.Queue))
	m.HandleFunc("POST /api/queue/retry", Admin, queueRetry(d.Queue))
	m.HandleFunc("POST /api/queue/purge", Admin, queuePurge(d.Queue))
	return m
}
