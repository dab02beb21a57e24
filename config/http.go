package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// HTTP is the API listener: health, metrics, the dialplan lookups, the
// agents' live streams and the operator API, each route with a role
// (internal/api). Tokens are never written inline: each comes from a file
// or a systemd credential, so the config file itself holds none.
type HTTP struct {
	// Listen is host:port; empty turns the listener off.
	Listen string `yaml:"listen"`
	// AdminTokenFile / AdminTokenCredential give the one admin token
	// (integrations, users, queue, everyone's live calls; the CLI sends
	// it too). Set at most one.
	AdminTokenFile       string `yaml:"admin_token_file"`
	AdminTokenCredential string `yaml:"admin_token_credential"`
	// DialplanTokens are the dialplan's tokens (lookups), one per
	// client that calls the API: each PBX, a monitoring system.
	DialplanTokens []DialplanToken `yaml:"dialplan_tokens"`
	// Public lists which of healthz, readyz and metrics need no token.
	// Default all three; one left out needs a dialplan (or the admin)
	// token.
	Public []string `yaml:"public"`
	// TLS serves the listener over HTTPS when both files are set.
	TLS HTTPTLS `yaml:"tls"`
	// Limits bound what one client can take from the daemon.
	Limits HTTPLimits `yaml:"limits"`

	// AdminToken is the admin token read from its file or credential.
	AdminToken Secret `yaml:"-"`
}

// DialplanToken is one named dialplan token. The name shows in the logs
// and metrics (never the token): which PBX asked.
type DialplanToken struct {
	Name            string `yaml:"name"`
	TokenFile       string `yaml:"token_file"`
	TokenCredential string `yaml:"token_credential"`
	// Token is what the file or credential holds.
	Token Secret `yaml:"-"`
}

// HTTPTLS is the listener's certificate and key (PEM files).
type HTTPTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// On reports whether the listener serves HTTPS.
func (t HTTPTLS) On() bool { return t.CertFile != "" || t.KeyFile != "" }

// HTTPLimits bound request sizes and the number of live streams.
type HTTPLimits struct {
	// MaxBodyBytes: a larger request body is refused with 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxHeaderBytes: larger request headers are refused with 431.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// StreamsPerAgent: live streams (/api/live) one agent may hold open;
	// one more is refused with 429.
	StreamsPerAgent int `yaml:"streams_per_agent"`
	// StreamsTotal: live streams of everyone together; 429 beyond.
	StreamsTotal int `yaml:"streams_total"`
}

// Public routes, and the default list of them.
const (
	PublicHealthz = "healthz"
	PublicReadyz  = "readyz"
	PublicMetrics = "metrics"
)

// DefaultPublic is http.public's default: the health routes and metrics
// stay reachable without a token, as monitoring expects.
func DefaultPublic() []string { return []string{PublicHealthz, PublicReadyz, PublicMetrics} }

// DefaultHTTPLimits are http.limits' defaults: far above what a dialplan
// lookup or the operator API sends, and enough streams for a large call
// centre while bounding the descriptors a misbehaving client can take.
func DefaultHTTPLimits() HTTPLimits {
	return HTTPLimits{MaxBodyBytes: 1 << 20, MaxHeaderBytes: 16 << 10, StreamsPerAgent: 4, StreamsTotal: 1000}
}

// MinTokenLength is the shortest token accepted: anything shorter can be
// guessed. `openssl rand -hex 32` gives 64 characters.
const MinTokenLength = 16

// IsPublic reports whether route (healthz, readyz, metrics) needs no token.
func (h HTTP) IsPublic(route string) bool {
	for _, p := range h.Public {
		if p == route {
			return true
		}
	}
	return false
}

// Loopback reports whether Listen is on a loopback address only (127/8,
// ::1 or localhost). A wildcard or any other host is not.
func (h HTTP) Loopback() bool {
	host, _, err := net.SplitHostPort(h.Listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// resolveTokens reads the API's tokens (only with the listener on). A
// *_file name is read as every *_file secret is; a *_credential name only
// from $CREDENTIALS_DIRECTORY (systemd LoadCredential=).
func (c *Config) resolveTokens(dir string, getenv func(string) string) []error {
	if c.HTTP.Listen == "" {
		return nil
	}
	var errs []error
	read := func(key, file, credential string) Secret {
		s, err := readSecret(key, file, credential, dir, getenv)
		if err != nil {
			errs = append(errs, err)
		}
		return s
	}
	c.HTTP.AdminToken = read("http.admin_token", c.HTTP.AdminTokenFile, c.HTTP.AdminTokenCredential)
	for i := range c.HTTP.DialplanTokens {
		t := &c.HTTP.DialplanTokens[i]
		t.Token = read(fmt.Sprintf("http.dialplan_tokens[%d].token", i), t.TokenFile, t.TokenCredential)
	}
	for i := range c.Users {
		u := &c.Users[i]
		u.Token = read(fmt.Sprintf("users[%d].token", i), u.TokenFile, u.TokenCredential)
	}
	return errs
}

// validateHTTP checks the listener, its tokens and limits. Off loopback
// every non-public route needs a token, so the admin token and a dialplan
// token are required there.
func (c *Config) validateHTTP(v *validator) {
	h := c.HTTP
	if h.Listen == "" {
		return
	}
	listenOK := hostPort(h.Listen) == nil
	if !listenOK {
		v.add("http.listen", "%q: %v", h.Listen, hostPort(h.Listen))
	}
	seen := map[Secret]string{} // token -> the key that holds it
	token := func(key string, s Secret) {
		if s == "" {
			return
		}
		if len(s.Value()) < MinTokenLength {
			v.add(key, "shorter than %d characters: make one with `openssl rand -hex 32`", MinTokenLength)
		}
		if prev, dup := seen[s]; dup {
			v.add(key, "the same token as %s: give each its own", prev)
			return
		}
		seen[s] = key
	}
	token(tokenKey("http.admin_token", h.AdminTokenFile), h.AdminToken)
	names := map[string]int{}
	for i, t := range h.DialplanTokens {
		key := fmt.Sprintf("http.dialplan_tokens[%d]", i)
		switch {
		case t.Name == "":
			v.add(key+".name", "required (it names the client in the logs)")
		case strings.ContainsAny(t.Name, " \t\r\n\"'"):
			v.add(key+".name", "%q: no spaces or quotes", t.Name)
		default:
			if j, dup := names[t.Name]; dup {
				v.add(key+".name", "%q is also http.dialplan_tokens[%d]'s name", t.Name, j)
			}
			names[t.Name] = i
		}
		if t.TokenFile == "" && t.TokenCredential == "" && t.Token == "" {
			v.add(key, "set token_file or token_credential")
		}
		token(tokenKey(key+".token", t.TokenFile), t.Token)
	}
	for i, u := range c.Users {
		token(tokenKey(fmt.Sprintf("users[%d].token", i), u.TokenFile), u.Token)
	}
	for i, p := range h.Public {
		switch p {
		case PublicHealthz, PublicReadyz, PublicMetrics:
		default:
			v.add(fmt.Sprintf("http.public[%d]", i), "%q is not one of healthz, readyz, metrics", p)
		}
	}
	if listenOK && !h.Loopback() {
		if h.AdminToken == "" {
			v.add("http.admin_token_file", "required: http.listen %q is not on loopback, and off loopback every non-public route needs a token (or set http.admin_token_credential)", h.Listen)
		}
		if len(h.DialplanTokens) == 0 {
			v.add("http.dialplan_tokens", "required: http.listen %q is not on loopback, and the dialplan routes need a token there", h.Listen)
		}
	} else if listenOK && len(h.DialplanTokens) == 0 {
		for _, r := range DefaultPublic() {
			if !h.IsPublic(r) {
				v.add("http.public", "leaves out %s, which then needs a dialplan token: set http.dialplan_tokens (on loopback, dialplan routes without one stay open)", r)
				break
			}
		}
	}
	if (h.TLS.CertFile == "") != (h.TLS.KeyFile == "") {
		v.add("http.tls", "set both cert_file and key_file")
	}
	l := h.Limits
	if l.MaxBodyBytes < 1024 {
		v.add("http.limits.max_body_bytes", "%d: want at least 1024", l.MaxBodyBytes)
	}
	if l.MaxHeaderBytes < 4096 {
		v.add("http.limits.max_header_bytes", "%d: want at least 4096", l.MaxHeaderBytes)
	}
	if l.StreamsTotal < 1 {
		v.add("http.limits.streams_total", "%d: want at least 1", l.StreamsTotal)
	}
	if l.StreamsPerAgent < 1 || l.StreamsPerAgent > l.StreamsTotal {
		v.add("http.limits.streams_per_agent", "%d: want 1 to streams_total (%d)", l.StreamsPerAgent, l.StreamsTotal)
	}
}

// tokenKey names a token's key as the file gave it.
func tokenKey(prefix, file string) string {
	if file != "" {
		return prefix + "_file"
	}
	return prefix + "_credential"
}
