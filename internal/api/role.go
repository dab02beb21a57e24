package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Role is who may call a route.
type Role int

// Roles, from the least to the most trusted. The zero Role is none: a route
// registered with it is refused.
const (
	// Public routes are for anyone who can reach the listener: health,
	// readiness, metrics (those of them http.public lists), the session.
	Public Role = iota + 1
	// Dialplan routes are for the PBX's dialplan (CURL()): caller lookups,
	// routing, wrap-ups and callback requests.
	Dialplan
	// Agent routes serve one user's own calls (their screen pops): the
	// user is the route's {extension}, or ?user= on /api/live.
	Agent
	// Admin routes change or show everything: integrations, user sync,
	// the queue, every user's live calls. The admin may call every route.
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

// MarshalText names the role in JSON ("agent").
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a role's name.
func (r *Role) UnmarshalText(b []byte) error {
	for c := Public; c <= Admin; c++ {
		if c.String() == string(b) {
			*r = c
			return nil
		}
	}
	return fmt.Errorf("api: %q is not a role", b)
}

func (r Role) valid() bool { return r >= Public && r <= Admin }

// Principal is who a request's token says the caller is.
type Principal struct {
	// Role is the token's role: Dialplan, Agent or Admin.
	Role Role `json:"role"`
	// User is an agent's extension (users[].extension); empty otherwise.
	User string `json:"user,omitempty"`
	// Name names the token in logs: "admin", a dialplan token's name,
	// "user 101". Never the token itself.
	Name string `json:"name"`
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p (the guard does this for every
// authenticated request).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom is the caller of the request whose context ctx is: false
// for a request without a token (a public route, or a dialplan route left
// open on loopback).
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Authorizer resolves a request's credential. The guard (Mux) decides with
// what it says whether the request may use a route; Tokens is the
// implementation callbridge runs.
type Authorizer interface {
	// Authenticate returns the request's principal: the zero Principal
	// and nil when it carries no credential at all, ErrUnauthenticated
	// when it carries one that matches no token.
	Authenticate(r *http.Request) (Principal, error)
	// Open reports whether routes of role are served to a request
	// without a credential: on loopback, the dialplan's while no
	// dialplan token is configured. Never true for Agent or Admin.
	Open(role Role) bool
}

// Authorization errors.
var (
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrForbidden       = errors.New("forbidden")
)

// AllowAll treats every request as the admin's: for tests of the routes
// themselves, never for a listener.
type AllowAll struct{}

// Authenticate implements Authorizer.
func (AllowAll) Authenticate(*http.Request) (Principal, error) {
	return Principal{Role: Admin, Name: "allow-all"}, nil
}

// Open implements Authorizer.
func (AllowAll) Open(Role) bool { return true }

// authorize is the guard's rule: nil lets the request through with p,
// ErrUnauthenticated (401) or ErrForbidden (403) do not. subject is the
// user the request is about (an agent route's {extension} or ?user=).
func authorize(p Principal, authed bool, role Role, subject string, open bool) error {
	switch {
	case role == Public:
		return nil
	case !authed:
		if open && role == Dialplan {
			return nil
		}
		return ErrUnauthenticated
	case p.Role == Admin:
		return nil
	case p.Role != role:
		return ErrForbidden
	case role == Agent && subject != p.User:
		return ErrForbidden
	}
	return nil
}
