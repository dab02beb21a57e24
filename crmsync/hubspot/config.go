package hubspot

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

// Subjects are call titles per kind of call ({{.Remote}}, {{.Number}},
// {{.UserName}}, ...); empty ones use the defaults.
type Subjects = callinfo.Subjects

// Config is one HubSpot connector's configuration.
type Config struct {
	// The private app's access token (pat-…): exactly one of the value, a
	// file holding it, or a systemd credential name.
	Token           Secret `yaml:"token"`
	TokenFile       string `yaml:"token_file"`
	TokenCredential string `yaml:"token_credential"`
	// URL is the API. Default https://api.hubapi.com.
	URL string `yaml:"url"`
	// AppURL is where records open for screen pops. Default: the
	// account's own (https://app.hubspot.com, https://app-eu1.hubspot.com),
	// read once from the account's details.
	AppURL string `yaml:"app_url"`
	// PortalID is the account (Hub) id in record URLs. Default: read once
	// from the account's details.
	PortalID string `yaml:"portal_id"`

	// DefaultOwner is the owner id owning calls of PBX users who map to no
	// HubSpot owner. Empty: the policy's default assignee, else none.
	DefaultOwner string `yaml:"default_owner"`
	// MarkerProperty is the custom calls property (single-line text) that
	// holds the activity id, searched before a create that may be a
	// retry. Default callbridge_activity_id.
	MarkerProperty string `yaml:"marker_property"`
	// TemplateProperty is the custom calls property receiving the
	// policy's template code (written only when there is one). Default
	// callbridge_template.
	TemplateProperty string   `yaml:"template_property"`
	Subjects         Subjects `yaml:"subjects"`

	// MaxConcurrency caps requests in flight. Default 4.
	MaxConcurrency int `yaml:"max_concurrency"`
	// BatchSize is how many calls one batch create carries. Default and
	// maximum 100.
	BatchSize int `yaml:"batch_size"`
	// Timeout bounds one request. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

// Defaults.
const (
	DefaultURL              = "https://api.hubapi.com"
	DefaultMarkerProperty   = "callbridge_activity_id"
	DefaultTemplateProperty = "callbridge_template"
	DefaultMaxConcurrency   = 4
	MaxBatchSize            = 100 // the batch endpoints' limit
	DefaultTimeout          = 30 * time.Second
)

var (
	numericRE  = regexp.MustCompile(`^[0-9]{1,20}$`)
	propertyRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,99}$`)
)

func (c Config) withDefaults() Config {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	c.URL = strings.TrimRight(c.URL, "/")
	c.AppURL = strings.TrimRight(c.AppURL, "/")
	if c.MarkerProperty == "" {
		c.MarkerProperty = DefaultMarkerProperty
	}
	if c.TemplateProperty == "" {
		c.TemplateProperty = DefaultTemplateProperty
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
// hubspot section.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	switch n := rest.CountSet(c.Token != "", c.TokenFile != "", c.TokenCredential != ""); {
	case n == 0:
		bad("token", "required (the private app's access token; or token_file, or token_credential)")
	case n > 1:
		bad("token", "set only one of token, token_file, token_credential")
	}
	if v := c.TokenCredential; v != "" && (strings.ContainsAny(v, `/\`) || v == "." || v == "..") {
		bad("token_credential", "a credential name, not a path")
	}
	for key, v := range map[string]string{"url": c.URL, "app_url": c.AppURL} {
		if v != "" && !rest.AbsURL(v) {
			bad(key, "want an absolute https URL")
		}
	}
	if c.PortalID != "" && !numericRE.MatchString(c.PortalID) {
		bad("portal_id", "want the account's numeric Hub id")
	}
	if c.DefaultOwner != "" && !numericRE.MatchString(c.DefaultOwner) {
		bad("default_owner", "want a numeric owner id")
	}
	for key, v := range map[string]string{"marker_property": c.MarkerProperty, "template_property": c.TemplateProperty} {
		if v != "" && (!propertyRE.MatchString(v) || strings.HasPrefix(v, "hs_")) {
			bad(key, "%q: want a custom property's internal name (lower case, digits, _)", v)
		}
	}
	if c.MarkerProperty != "" && c.MarkerProperty == c.TemplateProperty {
		bad("template_property", "must differ from marker_property")
	}
	if err := c.Subjects.Validate("subjects."); err != nil {
		errs = append(errs, err)
	}
	if c.MaxConcurrency < 0 || c.MaxConcurrency > 20 {
		bad("max_concurrency", "want 1 to 20")
	}
	if c.BatchSize < 0 || c.BatchSize > MaxBatchSize {
		bad("batch_size", "want 1 to %d (the batch endpoints' limit)", MaxBatchSize)
	}
	if c.Timeout < 0 {
		bad("timeout", "must not be negative")
	}
	return errors.Join(errs...)
}
