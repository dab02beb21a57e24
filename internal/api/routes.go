package api

import (
	"net/http"

	"github.com/rs/zerolog"
)

// Deps are what the routes answer from. Nil ones answer empty (no CRM
// configured: no integrations, nobody to sync, no queue).
type Deps struct {
	Auth    Authorizer   // nil: AllowAll
	Ready   func() bool  // /readyz
	Metrics http.Handler // /metrics

	Lookup       Lookup
	Integrations Integrations
	Users        Users
	Queue        Queue
	Live         Live

	Router    Router
	Presence  Presence
	Wrapups   Wrapups
	Callbacks Callbacks
	// Log gets the dialplan routes' lines (numbers masked).
	Log zerolog.Logger
}

// New builds the mux with every route of the API. This is the one list of
// them, each with its role.
func New(d Deps) *Mux {
	m := NewMux(d.Auth)
	m.HandleFunc("GET /healthz", Public, healthz)
	m.HandleFunc("GET /readyz", Public, readyz(d.Ready))
	if d.Metrics != nil {
		m.Handle("GET /metrics", Public, d.Metrics)
	}

	m.HandleFunc("GET /api/lookup", Dialplan, lookup(d.Lookup))
	m.HandleFunc("GET /api/callername", Dialplan, callerName(d.Lookup))
	m.HandleFunc("GET /api/route", Dialplan, routeGET(d.Router, d.Log))
	m.HandleFunc("POST /api/route", Dialplan, routePOST(d.Router, d.Log))
	m.HandleFunc("POST /api/calls/{call_id}/disposition", Dialplan, disposition(d.Wrapups, d.Log))
	m.HandleFunc("POST /api/callbacks", Dialplan, callbacks(d.Callbacks, d.Log))

	m.HandleFunc("GET /api/presence", Agent, presence(d.Presence))

	m.HandleScoped("GET /api/live", liveRole, live(d.Live))

	m.HandleFunc("GET /api/integrations", Admin, integrations(d.Integrations))
	m.HandleFunc("POST /api/integrations/{name}/{action}", Admin, integrationAction(d.Integrations))
	m.HandleFunc("POST /api/users/sync", Admin, syncUsers(d.Users))
	m.HandleFunc("GET /api/queue", Admin, queueStats(d.Queue))
	return m
}
