// Package callinfo is what the CRM connectors say about a call the same
// way: its kind, the remote number, the matched CRM record, the subject
// (text/template per kind of call) and the description.
package callinfo

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"text/template"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// Kinds of call, as the policy's template codes and the subjects name them.
const (
	Incoming   = "incoming"
	Outgoing   = "outgoing"
	Missed     = "missed_incoming"
	Unaccepted = "unaccepted_outgoing"
)

// Kind is a's kind of call.
func Kind(a bridge.Activity) string {
	switch {
	case a.Direction == bridge.Outbound && a.State != bridge.Connected:
		return Unaccepted
	case a.Direction == bridge.Outbound:
		return Outgoing
	case a.State != bridge.Connected:
		return Missed
	default:
		return Incoming
	}
}

// Number is the remote number as the CRM should store it: E.164 when
// known, so the CRM's own click-to-dial and matching work.
func Number(a bridge.Activity) string {
	if a.RemoteE164 != "" {
		return a.RemoteE164
	}
	return a.RemoteNumber
}

// Match is the CRM record behind a's remote number, nil when none (or no
// recognizer, or an internal call).
func Match(r phoneindex.Recognizer, a bridge.Activity) *phoneindex.Candidate {
	m, ok := Lookup(r, a)
	if !ok {
		return nil
	}
	return &m.Best
}

// Lookup is every CRM record behind a's remote number, best first; ok
// false when none (or no recognizer, or an internal call).
func Lookup(r phoneindex.Recognizer, a bridge.Activity) (m phoneindex.Match, ok bool) {
	if r == nil || a.Internal {
		return phoneindex.Match{}, false
	}
	switch {
	case a.RemoteE164 != "":
		return r.LookupE164(a.RemoteE164)
	case a.RemoteNumber != "":
		return r.Lookup(a.RemoteNumber)
	}
	return phoneindex.Match{}, false
}

// Subjects are subject templates per kind of call; empty ones use
// DefaultSubjects.
type Subjects struct {
	Incoming           string `yaml:"incoming"`
	Outgoing           string `yaml:"outgoing"`
	MissedIncoming     string `yaml:"missed_incoming"`
	UnacceptedOutgoing string `yaml:"unaccepted_outgoing"`
}

// DefaultSubjects are the subjects of a fresh install.
var DefaultSubjects = Subjects{
	Incoming:           "Call from {{.Remote}}",
	Outgoing:           "Call to {{.Remote}}",
	MissedIncoming:     "Missed call from {{.Remote}}",
	UnacceptedOutgoing: "Unanswered call to {{.Remote}}",
}

func (s Subjects) get(kind string) string {
	switch kind {
	case Incoming:
		return s.Incoming
	case Outgoing:
		return s.Outgoing
	case Missed:
		return s.MissedIncoming
	default:
		return s.UnacceptedOutgoing
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
	// Template is the policy's template code for this call, if any.
	Template string
}

// Subjecter renders subjects.
type Subjecter struct {
	t map[string]*template.Template
}

// Validate checks every template, naming keys under prefix.
func (s Subjects) Validate(prefix string) error {
	var errs []error
	for _, k := range []string{Incoming, Outgoing, Missed, Unaccepted} {
		if text := s.get(k); text != "" {
			if _, err := parse(text); err != nil {
				errs = append(errs, fmt.Errorf("%s%s: %w", prefix, k, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Compile makes the subject renderer, the defaults filling gaps.
func (s Subjects) Compile() (*Subjecter, error) {
	out := &Subjecter{t: map[string]*template.Template{}}
	for _, k := range []string{Incoming, Outgoing, Missed, Unaccepted} {
		text := s.get(k)
		if text == "" {
			text = DefaultSubjects.get(k)
		}
		t, err := parse(text)
		if err != nil {
			return nil, fmt.Errorf("subjects.%s: %w", k, err)
		}
		out.t[k] = t
	}
	return out, nil
}

// parse parses and trial-runs a template, so one that refers to a field
// that does not exist fails when the configuration loads rather than on
// every push.
func parse(text string) (*template.Template, error) {
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

// Subject renders a's subject, at most max characters, on one line.
func (s *Subjecter) Subject(a bridge.Activity, m *phoneindex.Candidate, templateCode string, max int) string {
	number := Number(a)
	d := SubjectData{Activity: a, Number: number, Remote: number, Template: templateCode}
	switch {
	case m != nil && m.Name != "":
		d.Remote, d.Regarding = m.Name, m.Name
	case a.RemoteName != "" && a.RemoteName != a.RemoteNumber:
		d.Remote = a.RemoteName
	}
	if d.Remote == "" {
		d.Remote = "unknown number"
	}
	var b strings.Builder
	if err := s.t[Kind(a)].Execute(&b, d); err != nil {
		b.Reset()
		b.WriteString(number) // a template that passed its trial run fails only on odd data
	}
	return Truncate(strings.Join(strings.Fields(b.String()), " "), max)
}

// Description is the call in a few lines of text, for the record's notes.
func Description(a bridge.Activity) string {
	var b strings.Builder
	dir := "Incoming"
	if a.Direction == bridge.Outbound {
		dir = "Outgoing"
	}
	if a.Internal {
		dir += " internal"
	}
	fmt.Fprintf(&b, "%s call, %s (%s).\n", dir, a.State, a.Reason)
	fmt.Fprintf(&b, "Ring %s s, talk %s s.\n", secs(a.RingSeconds), secs(a.TalkSeconds))
	if a.DDI != "" {
		fmt.Fprintf(&b, "Dialled number (DDI): %s\n", a.DDI)
	}
	if a.TransferredBy != "" {
		fmt.Fprintf(&b, "Transferred by: %s\n", a.TransferredBy)
	}
	fmt.Fprintf(&b, "Extension: %s\nCall id: %s", a.LocalNumber, a.CallID)
	return b.String()
}

func secs(f float64) string { return fmt.Sprintf("%d", Seconds(f)) }

// Seconds rounds a duration in seconds to whole seconds, never negative.
func Seconds(f float64) int {
	if f <= 0 || math.IsNaN(f) {
		return 0
	}
	return int(math.Min(math.Round(f), math.MaxInt32))
}

// Truncate shortens s to n runes, marking the cut.
func Truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Outcome says in a word or two how the call went, for a CRM's free-text
// result or disposition field.
func Outcome(a bridge.Activity) string {
	if a.State == bridge.Connected {
		if a.Reason == bridge.ReasonTransferred {
			return "Connected, transferred"
		}
		return "Connected"
	}
	switch a.Reason {
	case bridge.ReasonBusy:
		return "Busy"
	case bridge.ReasonNoAnswer:
		return "No answer"
	case bridge.ReasonRejected:
		return "Rejected"
	case bridge.ReasonFailed:
		return "Failed"
	case bridge.ReasonAnsweredElsewhere:
		return "Answered elsewhere"
	case bridge.ReasonCancel:
		if a.Direction == bridge.Outbound {
			return "Cancelled"
		}
		return "Caller hung up"
	}
	if a.State == bridge.Missed {
		return "Missed"
	}
	return "Not answered"
}
