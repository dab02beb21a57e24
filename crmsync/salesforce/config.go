package salesforce

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

// Subjects are subject templates per kind of call ({{.Remote}},
// {{.Number}}, {{.UserName}}, ...); empty ones use the defaults.
type Subjects = callinfo.Subjects

// Config is one Salesforce connector's configuration.
type Config struct {
	// URL is the org's My Domain: https://acme.my.salesforce.com. The
	// REST API and the token endpoint are under it.
	URL string `yaml:"url"`
	// APIVersion is the REST API version. Default DefaultAPIVersion.
	APIVersion string `yaml:"api_version"`
	// Auth is the OAuth 2.0 flow: "client_credentials" (default) or
	// "jwt_bearer".
	Auth string `yaml:"auth"`
	// ClientID is the connected app's consumer key.
	ClientID string `yaml:"client_id"`
	// The consumer secret (client_credentials): exactly one of the value,
	// a file holding it, or a systemd credential name.
	ClientSecret           Secret `yaml:"client_secret"`
	ClientSecretFile       string `yaml:"client_secret_file"`
	ClientSecretCredential string `yaml:"client_secret_credential"`
	// Username is the Salesforce user the JWT bearer token is issued for.
	Username string `yaml:"username"`
	// The PEM RSA private key of the connected app's certificate
	// (jwt_bearer): exactly one of the value, a file or a credential.
	PrivateKey           Secret `yaml:"private_key"`
	PrivateKeyFile       string `yaml:"private_key_file"`
	PrivateKeyCredential string `yaml:"private_key_credential"`
	// Audience is the JWT's aud: https://login.salesforce.com (default),
	// https://test.salesforce.com for a sandbox.
	Audience string `yaml:"audience"`
	// TokenURL overrides <url>/services/oauth2/token.
	TokenURL string `yaml:"token_url"`

	// DefaultOwner is the User id (005…) owning activities of PBX users
	// who map to no Salesforce user. Empty: the policy's default
	// assignee, else the integration user.
	DefaultOwner string `yaml:"default_owner"`
	// ExternalIDField is a custom Task text field marked External ID and
	// Unique (Callbridge_Activity_Id__c). Set, each push is an upsert on
	// it: one request, and a retry cannot make a second Task. Empty: a
	// SOQL lookup by CallObject before a create that may be a retry.
	ExternalIDField string `yaml:"external_id_field"`
	// TemplateField is the custom Task field that receives the policy's
	// template code (written only when there is one). Default
	// Callbridge_Template__c.
	TemplateField string `yaml:"template_field"`
	// Status is the Task Status of a written call. Default "Completed".
	Status string `yaml:"status"`
	// MissedStatus is the Status of missed inbound and unaccepted
	// outbound calls ("Not Started": a to-do to call back). Default:
	// Status.
	MissedStatus string   `yaml:"missed_status"`
	Subjects     Subjects `yaml:"subjects"`

	// MaxConcurrency caps requests in flight. Default 4; Salesforce
	// allows 25 long-running requests per org.
	MaxConcurrency int `yaml:"max_concurrency"`
	// BatchSize is how many Tasks one sObject Collections request
	// carries. Default and maximum 200.
	BatchSize int `yaml:"batch_size"`
	// Timeout bounds one request. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

// Flows for Auth.
const (
	AuthClientCredentials = "client_credentials"
	AuthJWTBearer         = "jwt_bearer"
)

// Defaults.
const (
	DefaultAPIVersion     = "62.0"
	DefaultAudience       = "https://login.salesforce.com"
	DefaultTemplateField  = "Callbridge_Template__c"
	DefaultStatus         = "Completed"
	DefaultMaxConcurrency = 4
	MaxBatchSize          = 200 // sObject Collections' limit
	DefaultTimeout        = 30 * time.Second
)

var (
	// A Salesforce id: 15 or 18 case-sensitive alphanumerics; users' key
	// prefix is 005.
	userIDRE  = regexp.MustCompile(`^005[0-9A-Za-z]{12}([0-9A-Za-z]{3})?$`)
	versionRE = regexp.MustCompile(`^[0-9]{2}\.0$`)
	// A custom field's API name.
	customFieldRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,38}__c$`)
)

func (c Config) withDefaults() Config {
	if c.APIVersion == "" {
		c.APIVersion = DefaultAPIVersion
	}
	if c.Auth == "" {
		c.Auth = AuthClientCredentials
	}
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	c.URL = strings.TrimRight(c.URL, "/")
	if c.TokenURL == "" {
		c.TokenURL = c.URL + "/services/oauth2/token"
	}
	if c.TemplateField == "" {
		c.TemplateField = DefaultTemplateField
	}
	if c.Status == "" {
		c.Status = DefaultStatus
	}
	if c.MissedStatus == "" {
		c.MissedStatus = c.Status
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = DefaultMaxConcurrency
	}
	if c.BatchSize == 0 {
		c.BatchSize = MaxBatchSize
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Validate returns every problem, joined, naming keys relative to the
// salesforce section.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.URL == "" {
		bad("url", "required (the My Domain URL, https://<domain>.my.salesforce.com)")
	} else if !rest.AbsURL(c.URL) {
		bad("url", "want the My Domain URL, https://<domain>.my.salesforce.com")
	}
	if c.TokenURL != "" && !rest.AbsURL(c.TokenURL) {
		bad("token_url", "want an absolute https URL")
	}
	if c.APIVersion != "" && !versionRE.MatchString(c.APIVersion) {
		bad("api_version", "%q: want a version like %q", c.APIVersion, DefaultAPIVersion)
	}
	if c.ClientID == "" {
		bad("client_id", "required (the connected app's consumer key)")
	}
	secretCount := rest.CountSet(c.ClientSecret != "", c.ClientSecretFile != "", c.ClientSecretCredential != "")
	keyCount := rest.CountSet(c.PrivateKey != "", c.PrivateKeyFile != "", c.PrivateKeyCredential != "")
	switch c.Auth {
	case "", AuthClientCredentials:
		switch {
		case secretCount == 0:
			bad("client_secret", "required for auth %s (or client_secret_file, or client_secret_credential)", AuthClientCredentials)
		case secretCount > 1:
			bad("client_secret", "set only one of client_secret, client_secret_file, client_secret_credential")
		}
		if keyCount > 0 {
			bad("private_key", "only for auth %s", AuthJWTBearer)
		}
	case AuthJWTBearer:
		switch {
		case keyCount == 0:
			bad("private_key", "required for auth %s (or private_key_file, or private_key_credential)", AuthJWTBearer)
		case keyCount > 1:
			bad("private_key", "set only one of private_key, private_key_file, private_key_credential")
		}
		if c.Username == "" {
			bad("username", "required for auth %s (the user the token is for)", AuthJWTBearer)
		}
		if secretCount > 0 {
			bad("client_secret", "only for auth %s", AuthClientCredentials)
		}
		if c.Audience != "" && !rest.AbsURL(c.Audience) {
			bad("audience", "want https://login.salesforce.com or https://test.salesforce.com")
		}
	default:
		bad("auth", "%q: want %q or %q", c.Auth, AuthClientCredentials, AuthJWTBearer)
	}
	for key, v := range map[string]string{"client_secret_credential": c.ClientSecretCredential, "private_key_credential": c.PrivateKeyCredential} {
		if v != "" && (strings.ContainsAny(v, `/\`) || v == "." || v == "..") {
			bad(key, "a credential name, not a path")
		}
	}
	if c.DefaultOwner != "" && !userIDRE.MatchString(c.DefaultOwner) {
		bad("default_owner", "want a User id (005…, 15 or 18 characters)")
	}
	if c.ExternalIDField != "" && !customFieldRE.MatchString(c.ExternalIDField) {
		bad("external_id_field", "%q: want a custom field's API name (…__c)", c.ExternalIDField)
	}
	if c.TemplateField != "" && !customFieldRE.MatchString(c.TemplateField) {
		bad("template_field", "%q: want a custom field's API name (…__c)", c.TemplateField)
	}
	if c.ExternalIDField != "" && c.ExternalIDField == c.TemplateField {
		bad("template_field", "must differ from external_id_field")
	}
	if err := c.Subjects.Validate("subjects."); err != nil {
		errs = append(errs, err)
	}
	if c.MaxConcurrency < 0 || c.MaxConcurrency > 25 {
		bad("max_concurrency", "want 1 to 25 (Salesforce's concurrent long-running request limit)")
	}
	if c.BatchSize < 0 || c.BatchSize > MaxBatchSize {
		bad("batch_size", "want 1 to %d (sObject Collections' limit)", MaxBatchSize)
	}
	if c.Timeout < 0 {
		bad("timeout", "must not be negative")
	}
	return errors.Join(errs...)
}
