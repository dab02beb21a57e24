package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/callbridge/callbridge/internal/secret"
)

// TokenSet is every token the API knows, by role: the configuration's
// http.admin_token_*, http.dialplan_tokens and users[].token_*.
type TokenSet struct {
	Admin    secret.Secret
	Dialplan []NamedToken
	// Agents maps an extension to its user's token.
	Agents map[string]secret.Secret
}

// NamedToken is one dialplan token and the name it is logged under.
type NamedToken struct {
	Name  string
	Token secret.Secret
}

// TokenOptions are how the listener is set up.
type TokenOptions struct {
	// Loopback: the listener is on a loopback address, so dialplan
	// routes stay open while no dialplan token is configured.
	Loopback bool
	// Secure marks the session cookie Secure (the listener is HTTPS).
	Secure bool
	// Now is the clock sessions expire by; nil: time.Now.
	Now func() time.Time
}

// Tokens is the Authorizer callbridge runs: a bearer token, or a session
// cookie made from one by POST /api/session, resolved to its Principal.
// Tokens are compared in constant time (as SHA-256 digests, against every
// known token, whichever matches) and never kept or logged as they are.
// Set swaps the whole set at once (SIGHUP).
type Tokens struct {
	opt      TokenOptions
	table    atomic.Pointer[tokenTable]
	sessions *sessions
}

type tokenEntry struct {
	digest [sha256.Size]byte
	p      Principal
}

type tokenTable struct {
	entries  []tokenEntry
	dialplan bool // some dialplan token is configured
}

// NewTokens returns the Authorizer for set.
func NewTokens(set TokenSet, opt TokenOptions) *Tokens {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	t := &Tokens{opt: opt, sessions: newSessions(opt.Now)}
	t.Set(set)
	return t
}

// Set replaces every token. Sessions made from a token no longer in the
// set end with it.
func (t *Tokens) Set(set TokenSet) {
	tab := &tokenTable{dialplan: len(set.Dialplan) > 0}
	add := func(s secret.Secret, p Principal) {
		if s != "" {
			tab.entries = append(tab.entries, tokenEntry{digest: sha256.Sum256([]byte(s.Value())), p: p})
		}
	}
	add(set.Admin, Principal{Role: Admin, Name: "admin"})
	for _, d := range set.Dialplan {
		add(d.Token, Principal{Role: Dialplan, Name: d.Name})
	}
	for ext, s := range set.Agents {
		add(s, Principal{Role: Agent, User: ext, Name: "user " + ext})
	}
	t.table.Store(tab)
}

// match finds the principal of token, comparing its digest with every
// entry so that the time taken says nothing about which one (or whether
// one) matched.
func (tab *tokenTable) match(digest [sha256.Size]byte) (Principal, bool) {
	var p Principal
	found := 0
	for _, e := range tab.entries {
		eq := subtle.ConstantTimeCompare(digest[:], e.digest[:])
		if eq == 1 {
			p = e.p
		}
		found |= eq
	}
	return p, found == 1
}

// credential is the request's bearer token: "" when it sends none, or a
// credential of another scheme (which no token matches: none is empty).
func credential(r *http.Request) string {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// Authenticate implements Authorizer: the Authorization header when
// present, else the session cookie.
func (t *Tokens) Authenticate(r *http.Request) (Principal, error) {
	tab := t.table.Load()
	if h := r.Header.Get("Authorization"); h != "" {
		p, ok := tab.match(sha256.Sum256([]byte(credential(r))))
		if !ok {
			return Principal{}, ErrUnauthenticated
		}
		return p, nil
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return Principal{}, nil
	}
	digest, ok := t.sessions.get(c.Value)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	p, ok := tab.match(digest)
	if !ok {
		return Principal{}, ErrUnauthenticated // its token was replaced
	}
	return p, nil
}

// Open implements Authorizer.
func (t *Tokens) Open(role Role) bool {
	return role == Dialplan && t.opt.Loopback && !t.table.Load().dialplan
}

// Login checks token and starts a session for it: the cookie to set.
func (t *Tokens) Login(token string) (Principal, *http.Cookie, error) {
	digest := sha256.Sum256([]byte(token))
	p, ok := t.table.Load().match(digest)
	if !ok {
		return Principal{}, nil, ErrUnauthenticated
	}
	id, expires := t.sessions.add(digest)
	return p, t.cookie(id, expires), nil
}

// Logout ends the session of r's cookie, if any, and gives the cookie
// that clears it in the browser.
func (t *Tokens) Logout(r *http.Request) *http.Cookie {
	if c, err := r.Cookie(SessionCookie); err == nil {
		t.sessions.remove(c.Value)
	}
	c := t.cookie("", time.Unix(0, 0))
	c.MaxAge = -1
	return c
}

func (t *Tokens) cookie(value string, expires time.Time) *http.Cookie {
	return &http.Cookie{Name: SessionCookie, Value: value, Path: "/", Expires: expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: t.opt.Secure}
}
