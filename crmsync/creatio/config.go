package creatio

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

// Subjects are captions per kind of call ({{.Remote}}, {{.Number}}, ...);
// empty ones use the defaults.
type Subjects = callinfo.Subjects

// Config is one Creatio connector's configuration.
type Config struct {
	// URL is the Creatio site: https://acme.creatio.com.
	URL string `yaml:"url"`
	// ODataPath is the OData 4 service under URL: /0/odata (.NET
	// Framework, the default) or /odata (.NET Core).
	ODataPath string `yaml:"odata_path"`
	// Auth is "oauth" (client credentials through the identity service,
	// the default) or "forms" (user name and password, the BPMCSRF
	// cookie; for on-site installs without an identity service).
	Auth string `yaml:"auth"`
	// IdentityURL is the identity service (OAuth): its token endpoint is
	// <identity_url>/connect/token.
	IdentityURL string `yaml:"identity_url"`
	ClientID    string `yaml:"client_id"`
	// The OAuth client secret: exactly one of the value, a file, a
	// credential.
	ClientSecret           Secret `yaml:"client_secret"`
	ClientSecretFile       string `yaml:"client_secret_file"`
	ClientSecretCredential string `yaml:"client_secret_credential"`
	// Username and the password (forms).
	Username           string `yaml:"username"`
	Password           Secret `yaml:"password"`
	PasswordFile       string `yaml:"password_file"`
	PasswordCredential string `yaml:"password_credential"`

	// Write is what a call becomes: "call" (a Call record, the telephony
	// log), "activity" (an Activity of category Call, owned by the
	// employee, on the timeline and the calendar) or "both" (the
	// default).
	Write string `yaml:"write"`
	// DefaultOwner is the contact id (an employee's Contact) owning calls
	// of PBX users who map to no Creatio user. Empty: the policy's default
	// assignee, else the integration user.
	DefaultOwner string `yaml:"default_owner"`
	// TemplateField is the custom text column receiving the policy's
	// template code, on what is written. Default UsrCallbridgeTemplate.
	TemplateField string   `yaml:"template_field"`
	Subjects      Subjects `yaml:"subjects"`

	// MaxConcurrency caps requests in flight. Default 4.
	MaxConcurrency int `yaml:"max_concurrency"`
	// Timeout bounds one request. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

// Choices.
const (
	AuthOAuth     = "oauth"
	AuthForms     = "forms"
	WriteCall     = "call"
	WriteActivity = "activity"
	WriteBoth     = "both"
)

// Defaults.
const (
	DefaultODataPath      = "/0/odata"
	DefaultTemplateField  = "UsrCallbridgeTemplate"
	DefaultMaxConcurrency = 4
	DefaultTimeout        = 30 * time.Second
)

var (
	guidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	columnRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,127}$`)
)

func (c Config) withDefaults() Config {
	c.URL = strings.TrimRight(c.URL, "/")
	c.IdentityURL = strings.TrimRight(c.IdentityURL, "/")
	if c.ODataPath == "" {
		c.ODataPath = DefaultODataPath
	}
	c.ODataPath = "/" + strings.Trim(c.ODataPath, "/")
	if c.Auth == "" {
		c.Auth = AuthOAuth
	}
	if c.Write == "" {
		c.Write = WriteBoth
	}
	if c.TemplateField == "" {
		c.TemplateField = DefaultTemplateField
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = DefaultMaxConcurrency
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Validate returns every problem, joined, naming keys relative to the
// creatio section.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.URL == "" {
		bad("url", "required (the site, https://<name>.creatio.com)")
	} else if !rest.AbsURL(c.URL) {
		bad("url", "want the site's absolute URL")
	}
	if c.ODataPath != "" && (!strings.HasPrefix(c.ODataPath, "/") || strings.ContainsAny(c.ODataPath, "?# ")) {
		bad("odata_path", "want a path such as /0/odata or /odata")
	}
	secrets := func(key string, v Secret, file, cred string, need bool, why string) {
		n := rest.CountSet(v != "", file != "", cred != "")
		switch {
		case need && n == 0:
			bad(key, "required for auth %s (or %s_file, or %s_credential)", why, key, key)
		case !need && n > 0:
			bad(key, "not for auth %s", why)
		case n > 1:
			bad(key, "set only one of %s, %s_file, %s_credential", key, key, key)
		}
		if cred != "" && (strings.ContainsAny(cred, `/\`) || cred == "." || cred == "..") {
			bad(key+"_credential", "a credential name, not a path")
		}
	}
	switch c.Auth {
	case "", AuthOAuth:
		if c.IdentityURL == "" {
			bad("identity_url", "required for auth oauth (the identity service)")
		} else if !rest.AbsURL(c.IdentityURL) {
			bad("identity_url", "want an absolute https URL")
		}
		if c.ClientID == "" {
			bad("client_id", "required for auth oauth")
		}
		secrets("client_secret", c.ClientSecret, c.ClientSecretFile, c.ClientSecretCredential, true, AuthOAuth)
		secrets("password", c.Password, c.PasswordFile, c.PasswordCredential, false, AuthOAuth)
	case AuthForms:
		if c.Username == "" {
			bad("username", "required for auth forms")
		}
		secrets("password", c.Password, c.PasswordFile, c.PasswordCredential, true, AuthForms)
		secrets("client_secret", c.ClientSecret, c.ClientSecretFile, c.ClientSecretCredential, false, AuthForms)
	default:
		bad("auth", "%q: want %q or %q", c.Auth, AuthOAuth, AuthForms)
	}
	switch c.Write {
	case "", WriteCall, WriteActivity, WriteBoth:
	default:
		bad("write", "%q: want %q, %q or %q", c.Write, WriteCall, WriteActivity, WriteBoth)
	}
	if c.DefaultOwner != "" && !guidRE.MatchString(c.DefaultOwner) {
		bad("default_owner", "want a contact id (GUID)")
	}
	if c.TemplateField != "" && !columnRE.MatchString(c.TemplateField) {
		bad("template_field", "%q: want a column name", c.TemplateField)
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
