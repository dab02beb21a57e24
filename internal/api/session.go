package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"
)

// SessionCookie is the cookie POST /api/session sets: HttpOnly,
// SameSite=Strict, Secure when the listener is HTTPS. A browser's
// EventSource cannot send an Authorization header; it sends this.
const SessionCookie = "callbridge_session"

// Session limits: a session lasts a working day; beyond maxSessions the
// one closest to expiring makes room. Sessions live in memory: after a
// restart the client posts its token again.
const (
	SessionLifetime = 12 * time.Hour
	maxSessions     = 10000
)

// sessions maps a session id's digest to the digest of the token it was
// made from (never the token, never the id).
type sessions struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[[sha256.Size]byte]session
}

type session struct {
	token   [sha256.Size]byte
	expires time.Time
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, m: map[[sha256.Size]byte]session{}}
}

func (s *sessions) add(token [sha256.Size]byte) (id string, expires time.Time) {
	b := make([]byte, 32)
	rand.Read(b)
	id = base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	expires = now.Add(SessionLifetime)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSessions {
		var oldest [sha256.Size]byte
		first := true
		for k, v := range s.m {
			if !v.expires.After(now) {
				delete(s.m, k)
				continue
			}
			if first || v.expires.Before(s.m[oldest].expires) {
				oldest, first = k, false
			}
		}
		if len(s.m) >= maxSessions {
			delete(s.m, oldest)
		}
	}
	s.m[sha256.Sum256([]byte(id))] = session{token: token, expires: expires}
	return id, expires
}

func (s *sessions) get(id string) ([sha256.Size]byte, bool) {
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	if !ok {
		return [sha256.Size]byte{}, false
	}
	if !v.expires.After(s.now()) {
		delete(s.m, k)
		return [sha256.Size]byte{}, false
	}
	return v.token, true
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	delete(s.m, sha256.Sum256([]byte(id)))
	s.mu.Unlock()
}

// SessionAuthorizer is an Authorizer that also makes session cookies
// (Tokens is one); without it the session routes answer 404.
type SessionAuthorizer interface {
	Authorizer
	Login(token string) (Principal, *http.Cookie, error)
	Logout(r *http.Request) *http.Cookie
}

// POST /api/session {"token": "…"}: checks the token and sets the session
// cookie; answers the principal it stands for. The token travels in the
// body only, never in the URL.
func login(auth Authorizer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sa, ok := auth.(SessionAuthorizer)
		if !ok {
			http.NotFound(w, r)
			return
		}
		var body struct {
			Token string `json:"token"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, `want a JSON body {"token": "…"}`, http.StatusBadRequest)
			return
		}
		p, c, err := sa.Login(body.Token)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="callbridge"`)
			http.Error(w, "unauthenticated: not a token of this daemon", http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, c)
		writeJSON(w, http.StatusOK, p)
	}
}

// DELETE /api/session: ends the session of the cookie sent, and clears it.
func logout(auth Authorizer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sa, ok := auth.(SessionAuthorizer)
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.SetCookie(w, sa.Logout(r))
		w.WriteHeader(http.StatusNoContent)
	}
}
