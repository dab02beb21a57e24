package api

import (
	"errors"
	"net/http"
)

// Role is who may call a route.
type Role int

// Roles, from the least to the most trusted. The zero Role is none: a route
// registered with it is refused.
const (
	// Public routes are for anyone who can reach the listener: health,
	// readiness, metrics.
	Public Role = iota + 1
	// Dialplan routes are for the PBX's dialplan (CURL()): caller lookups,
	// routing, wrap-ups and callback requests.
	Dialplan
	// Agent routes serve one user's own calls (their screen pops).
	Agent
	// Admin routes change or show everything: integrations, user sync,
	// the queue, every user's live calls.
	Admin
)

func (r Role) String() string {
	switch r {
	case Public:
		return "public"
	case Dialplan:
		return "dialplan"
	case Agent:
		return "agent"
	case Admin:
		return "admin"
	}
	return "none"
}

func (r Role) valid() bool { return r >= Public && r <= Admin }

// Authorizer decides whether a request may use a route of role. It is the
// one place access is checked.
type Authorizer interface {
	// Authorize returns nil to let r through, ErrUnauthenticated when it
	// carries no (valid) credential, ErrForbidden when its credential's
	// role is not enough.
	Authorize(r *http.Request, role Role) error
}

// Authorization errors.
var (
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrForbidden       = errors.New("forbidden")
)

// AllowAll lets every request through, whatever the route's role: the API
// is on a loopback listener by default and has no credentials yet.
type AllowAll struct{}

// Authorize implements Authorizer.
func (AllowAll) Authorize(*http.Request, Role) error { return nil }
