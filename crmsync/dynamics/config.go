package dynamics

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/secret"
)

// Secret is a string that never prints; see internal/secret.
type Secret = secret.Secret

// Config is one Dynamics connector's configuration.
type Config struct {
	// URL is the environment: https://contoso.crm4.dynamics.com.
	URL string `yaml:"url"`
	// TenantID is the Microsoft Entra tenant (GUID or domain).
	TenantID string `yaml:"tenant_id"`
	// ClientID is the app registration's application (client) id.
	ClientID string `yaml:"client_id"`
	// The client secret: exactly one of the value, a file holding it, or
	// the name of a systemd credential read from $CREDENTIALS_DIRECTORY.
	ClientSecret           Secret `yaml:"client_secret"`
	ClientSecretFile       string `yaml:"client_secret_file"`
	ClientSecretCredential string `yaml:"client_secret_credential"`
	// TokenURL overrides https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token
	// (sovereign clouds, tests).
	TokenURL string `yaml:"token_url"`
	// Scope overrides <url>/.default.
	Scope string `yaml:"scope"`

	// DefaultOwner is the systemuserid that owns activities of PBX users
	// who map to no CRM user. Empty: the application user owns them.
	DefaultOwner string `yaml:"default_owner"`
	// Users maps extensions to CRM users explicitly (crm_user wins over
	// email), and may override subjects per user.
	Users map[string]UserConfig `yaml:"users"`
	// Subjects are text/template texts over the activity, per kind of
	// call. Empty entries use the defaults (DefaultSubjects).
	Subjects Subjects `yaml:"subjects"`
	// Templates are named subject templates, chosen by a template code
	// (the policy's per-user templates) carried in the delivery's
	// Assignment.
	Templates map[string]string `yaml:"templates"`

	// Missed and Unaccepted say how missed inbound and unaccepted
	// outbound calls are left: "completed" (default: statecode 1 with
	// statuscode 4 Received / 2 Made), "open" (left open as a to-do for
	// a call back) or "canceled" (statecode 2, statuscode 3).
	Missed     string `yaml:"missed"`
	Unaccepted string `yaml:"unaccepted"`

	// StartMargin: before creating, look for a phonecall of the same
	// owner and number starting within ± this; one found counts as this
	// activity (it was written by another system or install). 0 turns
	// the query off; the deterministic id still makes retries safe.
	StartMargin time.Duration `yaml:"start_margin"`
	// MaxConcurrency caps requests in flight. Default 4; Dataverse
	// allows 52 per user.
	MaxConcurrency int `yaml:"max_concurrency"`
	// BatchSize is how many activities PushBatch puts in one $batch.
	// Default 100, at most 500 (two requests each; Dataverse allows
	// 1000 per batch).
	BatchSize int `yaml:"batch_size"`
	// Timeout bounds one request. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// Wrapup says where an agent's disposition goes on the phonecall.
	Wrapup WrapupConfig `yaml:"wrapup"`
}

// WrapupConfig places wrap-up codes and notes on phonecalls.
type WrapupConfig struct {
	// Field is the phonecall column that takes the wrap-up code (a custom
	// column such as new_wrapcode, as CTI adapters' callDispositionField).
	// Empty: the code is added to the description.
	Field string `yaml:"field"`
	// NotesField is the column for the notes. Empty: they are added to
	// the description.
	NotesField string `yaml:"notes_field"`
}

// written are the phonecall columns callbridge writes itself: a wrap-up
// field may not be one of them (the description takes notes by design).
var written = map[string]bool{"activityid": true, "subject": true, "phonenumber": true, "directioncode": true,
	"actualstart": true, "actualend": true, "actualdurationminutes": true, "statecode": true, "statuscode": true,
	"scheduledstart": true, "description": true}

var columnRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,127}$`)

// UserConfig maps one PBX user.
type UserConfig struct {
	// CRMUser is the systemuserid. Wins over Email.
	CRMUser string `yaml:"crm_user"`
	// Email is matched against systemusers' internalemailaddress,
	// case-insensitively, instead of the directory's e-mail.
	Email    string   `yaml:"email"`
	Subjects Subjects `yaml:"subjects"`
}

// Subjects are subject templates per kind of call.
type Subjects struct {
	Incoming           string `yaml:"incoming"`
	Outgoing           string `yaml:"outgoing"`
	MissedIncoming     string `yaml:"missed_incoming"`
	UnacceptedOutgoing string `yaml:"unaccepted_outgoing"`
}

// DefaultSubjects are used where Subjects leaves a kind empty.
var DefaultSubjects = Subjects{
	Incoming:           "Call from {{.Remote}}",
	Outgoing:           "Call to {{.Remote}}",
	MissedIncoming:     "Missed call from {{.Remote}}",
	UnacceptedOutgoing: "Unanswered call to {{.Remote}}",
}

// Completion choices for Missed and Unaccepted.
const (
	LeaveCompleted = "completed"
	LeaveOpen      = "open"
	LeaveCanceled  = "canceled"
)

// Defaults.
const (
	DefaultMaxConcurrency = 4
	DefaultBatchSize      = 100
	DefaultTimeout        = 30 * time.Second
)

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isGUID(s string) bool { return guidRE.MatchString(s) }

// Validate returns every problem, joined, naming keys relative to the
// dynamics section.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.URL == "" {
		bad("url", "required")
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		bad("url", "want the environment URL, https://<org>.crm.dynamics.com")
	} else if p := u.Port(); p != "" && !portOK(p) {
		bad("url", "port %q is not a port (1–65535)", p)
	}
	if c.TenantID == "" && c.TokenURL == "" {
		bad("tenant_id", "required")
	} else if strings.ContainsAny(c.TenantID, "/?#% ") {
		bad("tenant_id", "want a tenant GUID or domain")
	}
	if c.TokenURL != "" {
		if u, err := url.Parse(c.TokenURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("token_url", "want an absolute https URL")
		} else if p := u.Port(); p != "" && !portOK(p) {
			bad("token_url", "port %q is not a port (1–65535)", p)
		}
	}
	if c.ClientID == "" {
		bad("client_id", "required")
	}
	n := 0
	for _, set := range []bool{c.ClientSecret != "", c.ClientSecretFile != "", c.ClientSecretCredential != ""} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		bad("client_secret", "required (or client_secret_file, or client_secret_credential)")
	case n > 1:
		bad("client_secret", "set only one of client_secret, client_secret_file, client_secret_credential")
	}
	if cr := c.ClientSecretCredential; cr != "" && (strings.ContainsAny(cr, `/\`) || cr == "." || cr == "..") {
		bad("client_secret_credential", "a credential name, not a path")
	}
	if c.DefaultOwner != "" && !isGUID(c.DefaultOwner) {
		bad("default_owner", "want a systemuserid (GUID)")
	}
	for ext, u := range c.Users {
		if u.CRMUser != "" && !isGUID(u.CRMUser) {
			bad(fmt.Sprintf("users[%q].crm_user", ext), "want a systemuserid (GUID)")
		}
		if u.Email != "" && !strings.Contains(u.Email, "@") {
			bad(fmt.Sprintf("users[%q].email", ext), "%q is not an e-mail address", u.Email)
		}
		u.Subjects.validate(fmt.Sprintf("users[%q].subjects.", ext), bad)
	}
	c.Subjects.validate("subjects.", bad)
	for code, text := range c.Templates {
		if _, err := parseSubject(text); err != nil {
			bad(fmt.Sprintf("templates[%q]", code), "%v", err)
		}
	}
	for key, v := range map[string]string{"missed": c.Missed, "unaccepted": c.Unaccepted} {
		if v != "" && v != LeaveCompleted && v != LeaveOpen && v != LeaveCanceled {
			bad(key, "%q: want %q, %q or %q", v, LeaveCompleted, LeaveOpen, LeaveCanceled)
		}
	}
	if c.StartMargin < 0 || c.StartMargin > time.Hour {
		bad("start_margin", "want 0 to 1h")
	}
	if c.MaxConcurrency < 0 || c.MaxConcurrency > 52 {
		bad("max_concurrency", "want 1 to 52 (Dataverse's limit per user)")
	}
	if c.BatchSize < 0 || c.BatchSize > 500 {
		bad("batch_size", "want 1 to 500")
	}
	if c.Timeout < 0 {
		bad("timeout", "must not be negative")
	}
	for key, col := range map[string]string{"wrapup.field": c.Wrapup.Field, "wrapup.notes_field": c.Wrapup.NotesField} {
		switch {
		case col == "":
		case !columnRE.MatchString(col):
			bad(key, "%q: want a column's logical name (lower case, e.g. new_wrapcode)", col)
		case written[col] && !(key == "wrapup.notes_field" && col == "description"):
			bad(key, "%q is a column callbridge writes itself", col)
		}
	}
	if c.Wrapup.Field != "" && c.Wrapup.Field == c.Wrapup.NotesField {
		bad("wrapup.notes_field", "%q is also wrapup.field", c.Wrapup.NotesField)
	}
	return errors.Join(errs...)
}

func portOK(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// Check reads the client secret as New does, so that `config check` and
// `run` refuse a missing file or credential alike.
func (c Config) Check() error {
	_, err := secret.Load("client_secret", c.ClientSecret, c.ClientSecretFile, c.ClientSecretCredential)
	return err
}

// CheckUserID says whether id can own a phonecall: a systemuserid is a
// GUID. The config check asks it of every CRM user id given outside this
// section (users[].crm_user_id, policy.default_assignee, ...), since this
// connector uses them as owners.
func (Config) CheckUserID(id string) error {
	if !isGUID(id) {
		return errors.New("not a Dynamics systemuserid (GUID)")
	}
	return nil
}

func (s Subjects) validate(prefix string, bad func(key, format string, args ...any)) {
	for key, text := range map[string]string{"incoming": s.Incoming, "outgoing": s.Outgoing, "missed_incoming": s.MissedIncoming, "unaccepted_outgoing": s.UnacceptedOutgoing} {
		if text == "" {
			continue
		}
		if _, err := parseSubject(text); err != nil {
			bad(prefix+key, "%v", err)
		}
	}
}

// SubjectData is what a subject template sees: the activity's fields
// ({{.RemoteNumber}}, {{.UserName}}, {{.TalkSeconds}}, ...) and a few
// conveniences.
type SubjectData struct {
	bridge.Activity
	// Remote is the best name for the other side: the matched record's
	// name, else the presented name, else the number.
	Remote string
	// Number is the remote number, E.164 when known.
	Number string
	// Regarding is the matched CRM record's name, if any.
	Regarding string
}

// parseSubject parses and trial-runs a subject template, so a template
// that refers to a field that does not exist fails at configuration time
// rather than on every push.
func parseSubject(text string) (*template.Template, error) {
	t, err := template.New("subject").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	if err := t.Execute(&b, SubjectData{Remote: "x", Number: "+1"}); err != nil {
		return nil, err
	}
	return t, nil
}
