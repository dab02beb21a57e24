package pipedrive

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/callbridge/callbridge/crmsync/internal/callinfo"
	"github.com/callbridge/callbridge/crmsync/internal/rest"
	"github.com/callbridge/callbridge/internal/secret"
)

// Secret is a string that never prints; see internal/secret.
type Secret = secret.Secret

// Subjects are call log subjects per kind of call ({{.Remote}},
// {{.Number}}, ...); empty ones use the defaults. The marker is appended.
type Subjects = callinfo.Subjects

// Config is one Pipedrive connector's configuration.
type Config struct {
	// Auth is "api_token" (default) or "oauth".
	Auth string `yaml:"auth"`
	// The API token of an admin user (api_token): exactly one of the
	// value, a file, a credential.
	APIToken           Secret `yaml:"api_token"`
	APITokenFile       string `yaml:"api_token_file"`
	APITokenCredential string `yaml:"api_token_credential"`
	// OAuth: the app's client id and secret and a refresh token.
	ClientID               string `yaml:"client_id"`
	ClientSecret           Secret `yaml:"client_secret"`
	ClientSecretFile       string `yaml:"client_secret_file"`
	ClientSecretCredential string `yaml:"client_secret_credential"`
	RefreshToken           Secret `yaml:"refresh_token"`
	RefreshTokenFile       string `yaml:"refresh_token_file"`
	RefreshTokenCredential string `yaml:"refresh_token_credential"`
	// TokenURL is the OAuth token endpoint. Default
	// https://oauth.pipedrive.com/oauth/token.
	TokenURL string `yaml:"token_url"`
	// URL is the API. Default https://api.pipedrive.com (with OAuth, the
	// company's api_domain from the token answer).
	URL string `yaml:"url"`
	// CompanyDomain is the company's Pipedrive subdomain, for record URLs
	// (https://<domain>.pipedrive.com/person/<id>). Default: read once
	// from /v1/users/me.
	CompanyDomain string `yaml:"company_domain"`

	// DefaultOwner is the user id owning call logs of PBX users who map
	// to no Pipedrive user. Empty: the policy's default assignee, else
	// the token's user.
	DefaultOwner string   `yaml:"default_owner"`
	Subjects     Subjects `yaml:"subjects"`

	// MaxConcurrency caps requests in flight. Default 4.
	MaxConcurrency int `yaml:"max_concurrency"`
	// Timeout bounds one request. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

// Auth modes.
const (
	AuthAPIToken = "api_token"
	AuthOAuth    = "oauth"
)

// Defaults.
const (
	DefaultURL            = "https://api.pipedrive.com"
	DefaultTokenURL       = "https://oauth.pipedrive.com/oauth/token"
	DefaultMaxConcurrency = 4
	DefaultTimeout        = 30 * time.Second
)

var (
	userIDRE = regexp.MustCompile(`^[0-9]{1,12}$`)
	domainRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
)

func (c Config) withDefaults() Config {
	if c.Auth == "" {
		c.Auth = AuthAPIToken
	}
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.TokenURL == "" {
		c.TokenURL = DefaultTokenURL
	}
	c.URL = strings.TrimRight(c.URL, "/")
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = DefaultMaxConcurrency
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

type secretForm struct {
	key         string
	v           Secret
	file, creds string
}

// Validate returns every problem, joined, naming keys relative to the
// pipedrive section.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	token := secretForm{"api_token", c.APIToken, c.APITokenFile, c.APITokenCredential}
	oauth := []secretForm{{"client_secret", c.ClientSecret, c.ClientSecretFile, c.ClientSecretCredential}, {"refresh_token", c.RefreshToken, c.RefreshTokenFile, c.RefreshTokenCredential}}
	one := func(s secretForm, need bool, why string) {
		n := rest.CountSet(s.v != "", s.file != "", s.creds != "")
		switch {
		case need && n == 0:
			bad(s.key, "required for auth %s (or %s_file, or %s_credential)", why, s.key, s.key)
		case !need && n > 0:
			bad(s.key, "not for auth %s", why)
		case n > 1:
			bad(s.key, "set only one of %s, %s_file, %s_credential", s.key, s.key, s.key)
		}
		if s.creds != "" && (strings.ContainsAny(s.creds, `/\`) || s.creds == "." || s.creds == "..") {
			bad(s.key+"_credential", "a credential name, not a path")
		}
	}
	switch c.Auth {
	case "", AuthAPIToken:
		one(token, true, AuthAPIToken)
		for _, s := range oauth {
			one(s, false, AuthAPIToken)
		}
	case AuthOAuth:
		one(token, false, AuthOAuth)
		for _, s := range oauth {
			one(s, true, AuthOAuth)
		}
		if c.ClientID == "" {
			bad("client_id", "required for auth %s", AuthOAuth)
		}
	default:
		bad("auth", "%q: want %q or %q", c.Auth, AuthAPIToken, AuthOAuth)
	}
	for key, v := range map[string]string{"url": c.URL, "token_url": c.TokenURL} {
		if v != "" && !rest.AbsURL(v) {
			bad(key, "want an absolute https URL")
		}
	}
	if c.CompanyDomain != "" && !domainRE.MatchString(c.CompanyDomain) {
		bad("company_domain", "want the subdomain only, as in <domain>.pipedrive.com")
	}
	if c.DefaultOwner != "" && !userIDRE.MatchString(c.DefaultOwner) {
		bad("default_owner", "want a numeric user id")
	}
	if err := c.Subjects.Validate("subjects."); err != nil {
		errs = append(errs, err)
	}
	if c.MaxConcurrency < 0 || c.MaxConcurrency > 20 {
		bad("max_concurrency", "want 1 to 20")
	}
	if c.Timeout < 0 {
		bad("timeout", "must not be negative")
	}
	return errors.Join(errs...)
}
