package zoho

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

// Subjects are call subjects per kind of call ({{.Remote}}, {{.Number}},
// {{.UserName}}, ...); empty ones use the defaults.
type Subjects = callinfo.Subjects

// Config is one Zoho CRM connector's configuration.
type Config struct {
	// DataCentre is where the account lives: com (default), eu, in,
	// com.au, jp, ca, com.cn, sa or uk. It picks the API, accounts and
	// web hosts.
	DataCentre string `yaml:"data_centre"`
	// APIURL, AccountsURL and WebURL override the data centre's hosts
	// (https://www.zohoapis.eu, https://accounts.zoho.eu,
	// https://crm.zoho.eu).
	APIURL      string `yaml:"api_url"`
	AccountsURL string `yaml:"accounts_url"`
	WebURL      string `yaml:"web_url"`
	// APIVersion is the REST API version. Default v8.
	APIVersion string `yaml:"api_version"`

	// ClientID is the self client's (or server-based client's) id.
	ClientID string `yaml:"client_id"`
	// The client secret: exactly one of the value, a file, a credential.
	ClientSecret           Secret `yaml:"client_secret"`
	ClientSecretFile       string `yaml:"client_secret_file"`
	ClientSecretCredential string `yaml:"client_secret_credential"`
	// The refresh token (generated once with the scopes in README.md):
	// exactly one of the value, a file, a credential.
	RefreshToken           Secret `yaml:"refresh_token"`
	RefreshTokenFile       string `yaml:"refresh_token_file"`
	RefreshTokenCredential string `yaml:"refresh_token_credential"`

	// DefaultOwner is the user id owning calls of PBX users who map to
	// no Zoho user. Empty: the policy's default assignee, else the user
	// the refresh token belongs to.
	DefaultOwner string `yaml:"default_owner"`
	// MarkerField is the Calls module's custom single-line field holding
	// the activity id. Default Callbridge_Activity_Id.
	MarkerField string `yaml:"marker_field"`
	// TemplateField is the Calls module's custom field receiving the
	// policy's template code. Default Callbridge_Template.
	TemplateField string   `yaml:"template_field"`
	Subjects      Subjects `yaml:"subjects"`

	// MaxConcurrency caps requests in flight. Default 4; Zoho allows 5
	// (Free) to 25 (Ultimate) concurrent calls per org.
	MaxConcurrency int `yaml:"max_concurrency"`
	// BatchSize is how many calls one insert carries. Default and maximum
	// 100.
	BatchSize int `yaml:"batch_size"`
	// Timeout bounds one request. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

// Defaults.
const (
	DefaultDataCentre     = "com"
	DefaultAPIVersion     = "v8"
	DefaultMarkerField    = "Callbridge_Activity_Id"
	DefaultTemplateField  = "Callbridge_Template"
	DefaultMaxConcurrency = 4
	MaxBatchSize          = 100 // insert records' limit
	DefaultTimeout        = 30 * time.Second
)

// hosts are a data centre's API, accounts and web hosts (Zoho CRM API,
// "Multi DC": each data centre has its own domains; Canada's accounts and
// web hosts are zohocloud.ca).
type hosts struct{ api, accounts, web string }

var dataCentres = map[string]hosts{
	"com":    {"https://www.zohoapis.com", "https://accounts.zoho.com", "https://crm.zoho.com"},
	"eu":     {"https://www.zohoapis.eu", "https://accounts.zoho.eu", "https://crm.zoho.eu"},
	"in":     {"https://www.zohoapis.in", "https://accounts.zoho.in", "https://crm.zoho.in"},
	"com.au": {"https://www.zohoapis.com.au", "https://accounts.zoho.com.au", "https://crm.zoho.com.au"},
	"jp":     {"https://www.zohoapis.jp", "https://accounts.zoho.jp", "https://crm.zoho.jp"},
	"ca":     {"https://www.zohoapis.ca", "https://accounts.zohocloud.ca", "https://crm.zohocloud.ca"},
	"com.cn": {"https://www.zohoapis.com.cn", "https://accounts.zoho.com.cn", "https://crm.zoho.com.cn"},
	"sa":     {"https://www.zohoapis.sa", "https://accounts.zoho.sa", "https://crm.zoho.sa"},
	"uk":     {"https://www.zohoapis.uk", "https://accounts.zoho.uk", "https://crm.zoho.uk"},
}

var (
	idRE      = regexp.MustCompile(`^[0-9]{6,25}$`)
	apiNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,99}$`)
	versionRE = regexp.MustCompile(`^v[0-9]{1,2}$`)
)

func (c Config) withDefaults() Config {
	if c.DataCentre == "" {
		c.DataCentre = DefaultDataCentre
	}
	h := dataCentres[c.DataCentre]
	if c.APIURL == "" {
		c.APIURL = h.api
	}
	if c.AccountsURL == "" {
		c.AccountsURL = h.accounts
	}
	if c.WebURL == "" {
		c.WebURL = h.web
	}
	c.APIURL, c.AccountsURL, c.WebURL = strings.TrimRight(c.APIURL, "/"), strings.TrimRight(c.AccountsURL, "/"), strings.TrimRight(c.WebURL, "/")
	if c.APIVersion == "" {
		c.APIVersion = DefaultAPIVersion
	}
	if c.MarkerField == "" {
		c.MarkerField = DefaultMarkerField
	}
	if c.TemplateField == "" {
		c.TemplateField = DefaultTemplateField
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
// zoho section.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if _, ok := dataCentres[c.DataCentre]; c.DataCentre != "" && !ok {
		bad("data_centre", "%q: want one of com, eu, in, com.au, jp, ca, com.cn, sa, uk", c.DataCentre)
	}
	for key, v := range map[string]string{"api_url": c.APIURL, "accounts_url": c.AccountsURL, "web_url": c.WebURL} {
		if v != "" && !rest.AbsURL(v) {
			bad(key, "want an absolute https URL")
		}
	}
	if c.APIVersion != "" && !versionRE.MatchString(c.APIVersion) {
		bad("api_version", "%q: want a version like %q", c.APIVersion, DefaultAPIVersion)
	}
	if c.ClientID == "" {
		bad("client_id", "required")
	}
	for _, s := range []struct {
		key         string
		v           Secret
		file, creds string
	}{{"client_secret", c.ClientSecret, c.ClientSecretFile, c.ClientSecretCredential}, {"refresh_token", c.RefreshToken, c.RefreshTokenFile, c.RefreshTokenCredential}} {
		switch n := rest.CountSet(s.v != "", s.file != "", s.creds != ""); {
		case n == 0:
			bad(s.key, "required (or %s_file, or %s_credential)", s.key, s.key)
		case n > 1:
			bad(s.key, "set only one of %s, %s_file, %s_credential", s.key, s.key, s.key)
		}
		if s.creds != "" && (strings.ContainsAny(s.creds, `/\`) || s.creds == "." || s.creds == "..") {
			bad(s.key+"_credential", "a credential name, not a path")
		}
	}
	if c.DefaultOwner != "" && !idRE.MatchString(c.DefaultOwner) {
		bad("default_owner", "want a numeric user id")
	}
	for key, v := range map[string]string{"marker_field": c.MarkerField, "template_field": c.TemplateField} {
		if v != "" && !apiNameRE.MatchString(v) {
			bad(key, "%q: want a field's API name", v)
		}
	}
	if c.MarkerField != "" && c.MarkerField == c.TemplateField {
		bad("template_field", "must differ from marker_field")
	}
	if err := c.Subjects.Validate("subjects."); err != nil {
		errs = append(errs, err)
	}
	if c.MaxConcurrency < 0 || c.MaxConcurrency > 25 {
		bad("max_concurrency", "want 1 to 25 (Zoho's concurrency limit per org)")
	}
	if c.BatchSize < 0 || c.BatchSize > MaxBatchSize {
		bad("batch_size", "want 1 to %d (an insert's limit)", MaxBatchSize)
	}
	if c.Timeout < 0 {
		bad("timeout", "must not be negative")
	}
	return errors.Join(errs...)
}
