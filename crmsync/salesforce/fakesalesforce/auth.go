package fakesalesforce

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// oauthErr writes an OAuth error ({"error", "error_description"}, RFC 6749
// 5.2), as Salesforce's token endpoint does, with 400.
func oauthErr(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// token is /services/oauth2/token: the client credentials flow ("OAuth
// 2.0 Client Credentials Flow for Server-to-Server Integration") and the
// JWT bearer flow ("OAuth 2.0 JWT Bearer Flow for Server-to-Server
// Integration"). The answer has no expires_in: Salesforce does not say
// when the session ends.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokensN++
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		oauthErr(w, http.StatusBadRequest, "invalid_request", "must use HTTP POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(w, http.StatusBadRequest, "invalid_request", "malformed body")
		return
	}
	f := r.PostForm
	switch f.Get("grant_type") {
	case "client_credentials":
		switch {
		case f.Get("client_id") != s.opts.ClientID || s.opts.ClientID == "":
			oauthErr(w, http.StatusBadRequest, "invalid_client_id", "client identifier invalid")
			return
		case f.Get("client_secret") != s.opts.ClientSecret:
			oauthErr(w, http.StatusBadRequest, "invalid_client", "invalid client credentials")
			return
		}
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if why := s.checkAssertion(f.Get("assertion")); why != "" {
			oauthErr(w, http.StatusBadRequest, "invalid_grant", why)
			return
		}
	default:
		oauthErr(w, http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
		return
	}
	tok := "00DFAKE0000000!" + strings.ToUpper(newID("AQ")[2:]) + newID("")
	s.mu.Lock()
	s.tokens[tok] = s.opts.Now().Add(s.opts.SessionTimeout)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": tok, "instance_url": "https://" + r.Host, "token_type": "Bearer",
		"id":        "https://login.salesforce.com/id/00DFAKE0000000/005FAKE0000000",
		"issued_at": strconv.FormatInt(s.opts.Now().UnixMilli(), 10), "signature": "fake",
	})
}

// checkAssertion verifies a JWT bearer assertion as Salesforce does: RS256
// signed with the connected app's certificate key, iss the consumer key,
// sub a user, aud the login host, exp in the future and no more than a few
// minutes away ("The exp claim must be the expiration time of the
// assertion within 3 minutes", JWT bearer flow, step 3; Salesforce
// tolerates some clock skew, the fake 5 minutes).
func (s *Server) checkAssertion(a string) string {
	parts := strings.Split(a, ".")
	if len(parts) != 3 || s.opts.PublicKey == nil {
		return "invalid assertion"
	}
	enc := base64.RawURLEncoding
	head, err1 := enc.DecodeString(parts[0])
	body, err2 := enc.DecodeString(parts[1])
	sig, err3 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return "invalid assertion"
	}
	var h struct{ Alg string }
	var c struct {
		Iss, Sub, Aud string
		Exp           int64
	}
	if json.Unmarshal(head, &h) != nil || json.Unmarshal(body, &c) != nil || h.Alg != "RS256" {
		return "invalid assertion"
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(s.opts.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return "invalid assertion"
	}
	now := s.opts.Now()
	exp := time.Unix(c.Exp, 0)
	switch {
	case c.Iss != s.opts.ClientID:
		return "invalid client credentials"
	case c.Aud != s.opts.Audience:
		return "audience is invalid"
	case !now.Before(exp) || exp.Sub(now) > 5*time.Minute:
		return "expired authorization code"
	case !s.userExists(c.Sub):
		return "user hasn't approved this consumer"
	}
	return ""
}

func (s *Server) userExists(username string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.objects["User"].rows {
		if strings.EqualFold(u["Username"].(string), username) && u["IsActive"] == true {
			return true
		}
	}
	return false
}
