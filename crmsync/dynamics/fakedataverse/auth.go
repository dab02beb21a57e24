package fakedataverse

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"
)

// RevokeTokens invalidates every issued token, as a password reset or an
// expiry would.
func (s *Server) RevokeTokens() { s.mu.Lock(); clear(s.tokens); s.mu.Unlock() }

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenCalls++
	s.mu.Unlock()
	oauthErr := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		oauthErr(405, "invalid_request", "AADSTS900561: The endpoint only accepts POST requests.")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(400, "invalid_request", "AADSTS900144: malformed body")
		return
	}
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "client_credentials":
		oauthErr(400, "unsupported_grant_type", "AADSTS70003: grant_type must be client_credentials")
	case f.Get("client_id") != s.opts.ClientID:
		oauthErr(400, "unauthorized_client", "AADSTS700016: Application not found in the directory.")
	case f.Get("client_secret") != s.opts.ClientSecret:
		oauthErr(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
	case f.Get("scope") != s.opts.Scope:
		oauthErr(400, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid.")
	default:
		var b [24]byte
		_, _ = rand.Read(b[:])
		tok := "eyJ0eXAi." + hex.EncodeToString(b[:])
		s.mu.Lock()
		s.tokens[tok] = s.opts.Now().Add(s.opts.TokenTTL)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": int(s.opts.TokenTTL / time.Second), "access_token": tok})
	}
}
