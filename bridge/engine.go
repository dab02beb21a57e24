package bridge

import (
	"regexp"
	"time"
)

// User is an internal party from the user directory.
type User struct {
	Extension string   // what identifies the user, e.g. "101"
	Name      string   // display name
	Email     string   // for mapping to CRM users
	Endpoints []string // device/endpoint names if not the extension itself
}

// DefaultExtensionPattern makes any endpoint named with 2–6 digits a user
// when no directory is configured.
var DefaultExtensionPattern = regexp.MustCompile(`^[0-9]{2,6}$`)

// Config tells the engine who is who. It is read once, at New.
type Config struct {
	// Source names the adapter in activities: "ari", "ami", "sip".
	Source string
	// PBX namespaces activity ids when several PBXs feed one CRM.
	PBX string
	// Users is the user directory. When empty, any endpoint matching
	// ExtensionPattern is a user.
	Users []User
	// ExtensionPattern recognises users when Users is empty. Nil means
	// DefaultExtensionPattern.
	ExtensionPattern *regexp.Regexp
	// Trunks lists endpoints that are trunks: never users, always external.
	Trunks []string
}

// Stats counts what the engine holds and what it passed over.
type Stats struct {
	Calls    int // calls in progress
	Channels int // channels alive
	Ignored  int // events about channels the engine did not know, or of unknown kinds
}

// Engine turns events into transitions and activities. It is not safe for
// concurrent use: one goroutine feeds it, in the order the source emitted.
type Engine struct {
	cfg Config
}

// New returns an engine for cfg.
func New(cfg Config) *Engine { return &Engine{cfg: cfg} }

// Apply feeds one event and returns what it changed: live transitions and,
// when a call ends, its users' finished activities.
func (e *Engine) Apply(ev Event) []Transition { return nil }

// Flush ends every call still open as of at (end of a replay) and returns
// their activities.
func (e *Engine) Flush(at time.Time) []Transition { return nil }

// Stats reports what the engine holds.
func (e *Engine) Stats() Stats { return Stats{} }
