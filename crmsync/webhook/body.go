package webhook

import (
	_ "embed"
	"encoding/json"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/internal/callinfo"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// Schema is the JSON Schema (draft 2020-12) of Body, as body.schema.json
// in this directory holds it.
//
//go:embed body.schema.json
var Schema []byte

// Body is what a webhook POSTs: the activity's own fields at the top level
// (as SEMANTICS.md names them, and as bodies were before the other keys
// came), and what callbridge decided about it. Every key below is always
// present, null or empty when there is nothing to say.
type Body struct {
	bridge.Activity
	// CRMUser is who owns the activity in the CRM; nil when the policy
	// knows neither a CRM user nor an e-mail for the user.
	CRMUser *CRMUser
	// Template is the user's template code for this kind of call
	// (policy templates); "" when none is configured.
	Template string
	// Matches are the CRM records behind the remote number, best first,
	// from the phone index named by recognition_from; empty without one,
	// or for an internal call, or when nothing matched.
	Matches []Match
	// Completed is false when the activity is written open, to wait for
	// its wrap-up (wrapup.complete_on_wrap): an activity.update event with
	// "complete": true follows. True otherwise.
	Completed bool
	// WrapUp is the user's wrap-up (disposition) of the call. In an
	// activity event it is nil: a disposition reaches a receiver as an
	// activity.update event after its activity (Update.WrapUp, the same
	// shape), since the activity is written at hang-up, before the agent
	// has wrapped up.
	WrapUp *WrapUp
}

// CRMUser is the activity's owner in the CRM.
type CRMUser struct {
	// ID is the CRM user's id; "" when only the e-mail is known (the
	// receiver maps it itself) or the default assignee has none.
	ID    string `json:"id"`
	Email string `json:"email"`
	// Mapped is true when ID came from the user mapping, false when it
	// is the policy's default assignee.
	Mapped bool `json:"mapped"`
}

// Match is one CRM record holding the remote number.
type Match struct {
	// Connector is the connector whose phone index matched.
	Connector string `json:"connector"`
	// Entity is the CRM table ("contact", "Lead", "companies", …).
	Entity string `json:"entity"`
	// Type is "person" or "entity" (an organisation).
	Type phoneindex.Kind `json:"type"`
	ID   string          `json:"id"`
	Name string          `json:"name"`
	// URL opens the record in the CRM; "" when the connector does not know.
	URL string `json:"url"`
	// Org is a person's organisation's id, when known.
	Org string `json:"org"`
	// Exact is true for a full-number match, false for a last-digits one.
	Exact bool `json:"exact"`
}

// WrapUp is an agent's disposition of a call, as the disposition API
// took it.
type WrapUp struct {
	// Code is one of wrapup.codes (any code when that list is empty).
	Code string `json:"code"`
	// Notes are the agent's free text; "" when none.
	Notes string `json:"notes"`
	// At is when the disposition was given.
	At time.Time `json:"at"`
}

// MarshalJSON writes At as the activity's times are written (RFC 3339,
// milliseconds, UTC).
func (w WrapUp) MarshalJSON() ([]byte, error) {
	return appendWrapUp(nil, &w), nil
}

// wrapUpOf is w as the webhook writes it; nil for nil.
func wrapUpOf(w *crmsync.Wrapup) *WrapUp {
	if w == nil {
		return nil
	}
	return &WrapUp{Code: w.Code, Notes: w.Notes, At: w.At.UTC().Truncate(time.Millisecond)}
}

// extras are the keys after the activity's, for UnmarshalJSON.
type extras struct {
	CRMUser   *CRMUser `json:"crm_user"`
	Template  string   `json:"template"`
	Matches   []Match  `json:"matches"`
	Completed bool     `json:"completed"`
	WrapUp    *WrapUp  `json:"wrap_up"`
}

// MarshalJSON writes the activity's fields followed by the other keys, in
// one object: the bytes a webhook sends (see appendBody).
func (b Body) MarshalJSON() ([]byte, error) {
	return appendBody(nil, &b)
}

// UnmarshalJSON reads what MarshalJSON writes (for receivers in Go).
func (b *Body) UnmarshalJSON(data []byte) error {
	var a bridge.Activity
	if err := json.Unmarshal(data, &a); err != nil {
		return err
	}
	var x extras
	if err := json.Unmarshal(data, &x); err != nil {
		return err
	}
	*b = Body{Activity: a, CRMUser: x.CRMUser, Template: x.Template, Matches: x.Matches, Completed: x.Completed, WrapUp: x.WrapUp}
	return nil
}

// body builds what d is sent as.
func (w *Webhook) body(d crmsync.Delivery) Body {
	b := Body{Activity: d.Activity, Template: d.Assignment.Template, Completed: true}
	if as := d.Assignment; as.CRMUser != "" || as.Email != "" {
		b.CRMUser = &CRMUser{ID: as.CRMUser, Email: as.Email, Mapped: as.Mapped}
	}
	if m, ok := callinfo.Lookup(w.rec, d.Activity); ok {
		for _, c := range m.Candidates {
			b.Matches = append(b.Matches, Match{Connector: w.cfg.RecognitionFrom, Entity: c.Entity, Type: c.Kind,
				ID: c.ID, Name: c.Name, URL: c.URL, Org: c.Org, Exact: c.Exact})
		}
	}
	return b
}
