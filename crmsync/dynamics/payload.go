package dynamics

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"text/template"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// Phonecall state and status codes.
const (
	stateOpen      = 0
	stateCompleted = 1
	stateCanceled  = 2
	statusMade     = 2
	statusReceived = 4
	statusCanceled = 3
)

// completion is the state an activity's phonecall ends in; nil leaves it
// open.
type completion struct {
	State  int `json:"statecode"`
	Status int `json:"statuscode"`
}

// Party is one activity party (phonecall_activity_parties).
type Party map[string]any

// Phonecall is the create body: attribute names as Dataverse spells them.
type Phonecall map[string]any

// maxSubject is the phonecall subject's length in Dataverse.
const maxSubject = 200

// kinds of call, as subject keys.
const (
	kindIncoming   = "incoming"
	kindOutgoing   = "outgoing"
	kindMissed     = "missed_incoming"
	kindUnaccepted = "unaccepted_outgoing"
)

func kindOf(a bridge.Activity) string {
	switch {
	case a.Direction == bridge.Outbound && a.State != bridge.Connected:
		return kindUnaccepted
	case a.Direction == bridge.Outbound:
		return kindOutgoing
	case a.State != bridge.Connected:
		return kindMissed
	default:
		return kindIncoming
	}
}

func (s Subjects) get(kind string) string {
	switch kind {
	case kindIncoming:
		return s.Incoming
	case kindOutgoing:
		return s.Outgoing
	case kindMissed:
		return s.MissedIncoming
	default:
		return s.UnacceptedOutgoing
	}
}

func (d *Dynamics) compileSubjects() error {
	d.subjects = map[string]*template.Template{}
	add := func(key, text string) error {
		t, err := parseSubject(text)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		d.subjects[key] = t
		return nil
	}
	for _, k := range []string{kindIncoming, kindOutgoing, kindMissed, kindUnaccepted} {
		text := d.cfg.Subjects.get(k)
		if text == "" {
			text = DefaultSubjects.get(k)
		}
		if err := add(k, text); err != nil {
			return err
		}
		for ext, u := range d.cfg.Users {
			if text := u.Subjects.get(k); text != "" {
				if err := add(ext+"/"+k, text); err != nil {
					return err
				}
			}
		}
	}
	for code, text := range d.cfg.Templates {
		if err := add("@"+code, text); err != nil {
			return err
		}
	}
	return nil
}

// plan is everything decided about one activity before any request.
type plan struct {
	id       string // activityid
	owner    string // systemuserid, may be empty
	number   string // phonenumber
	body     Phonecall
	complete *completion
}

// remoteNumber is what goes into phonenumber: E.164 when known, so the
// CRM's own click-to-dial and matching work.
func remoteNumber(a bridge.Activity) string {
	if a.RemoteE164 != "" {
		return a.RemoteE164
	}
	return a.RemoteNumber
}

// plan maps dl to its phonecall. It makes no request: the user mapping and
// the recognizer are in memory. The owner is picked by owner.
func (d *Dynamics) plan(dl crmsync.Delivery) (*plan, error) {
	a, as := dl.Activity, dl.Assignment
	if a.ID == "" {
		return nil, fmt.Errorf("activity without id")
	}
	owner, mapped := d.owner(a.User, as)
	users := d.users.Load()
	number := remoteNumber(a)

	var match *phoneindex.Candidate
	if d.rec != nil && !a.Internal {
		var m phoneindex.Match
		var ok bool
		if a.RemoteE164 != "" {
			m, ok = d.rec.LookupE164(a.RemoteE164)
		} else if a.RemoteNumber != "" {
			m, ok = d.rec.Lookup(a.RemoteNumber)
		}
		if ok {
			match = &m.Best
		}
	}

	data := SubjectData{Activity: a, Number: number, Remote: number}
	switch {
	case match != nil && match.Name != "":
		data.Remote, data.Regarding = match.Name, match.Name
	case a.RemoteName != "" && a.RemoteName != a.RemoteNumber:
		data.Remote = a.RemoteName
	}
	if data.Remote == "" {
		data.Remote = "unknown number"
	}
	kind := kindOf(a)
	tmpl := d.subjects[kind]
	if t, ok := d.subjects[a.User+"/"+kind]; ok {
		tmpl = t
	}
	if t, ok := d.subjects["@"+as.Template]; ok && as.Template != "" {
		tmpl = t
	}
	var sb strings.Builder
	if err := tmpl.Execute(&sb, data); err != nil {
		return nil, fmt.Errorf("subject template: %w", err)
	}
	subject := truncate(strings.Join(strings.Fields(sb.String()), " "), maxSubject)

	p := &plan{id: RecordID(a.ID), owner: owner, number: number}
	body := Phonecall{
		"activityid":            p.id,
		"subject":               subject,
		"phonenumber":           number,
		"directioncode":         a.Direction == bridge.Outbound,
		"actualstart":           dvTime(a.StartedAt),
		"actualend":             dvTime(a.EndedAt),
		"actualdurationminutes": durationMinutes(a.TalkSeconds),
		"description":           description(a),
	}
	if owner != "" {
		body["ownerid@odata.bind"] = "/systemusers(" + owner + ")"
	}
	if match != nil {
		body["regardingobjectid_"+match.Entity+"_phonecall@odata.bind"] = "/" + match.EntitySet + "(" + match.ID + ")"
	}

	// The user's side: their CRM user when mapped, else their extension
	// as an unresolved address (not the default owner, who did not take
	// the call).
	var user Party
	if mapped {
		user = Party{"partyid_systemuser@odata.bind": "/systemusers(" + owner + ")"}
	} else {
		user = Party{"addressused": a.LocalNumber}
	}
	var remote Party
	switch {
	case a.Internal && users.usable(users.Users[a.RemoteNumber]):
		remote = Party{"partyid_systemuser@odata.bind": "/systemusers(" + users.Users[a.RemoteNumber] + ")"}
	case match != nil:
		remote = Party{"partyid_" + match.Entity + "@odata.bind": "/" + match.EntitySet + "(" + match.ID + ")"}
	default:
		remote = Party{"addressused": number}
	}
	from, to := remote, user
	if a.Direction == bridge.Outbound {
		from, to = user, remote
	}
	from["participationtypemask"] = 1 // sender
	to["participationtypemask"] = 2   // to recipient
	body["phonecall_activity_parties"] = []Party{from, to}
	p.body = body
	p.complete = d.completionFor(a)
	return p, nil
}

// completionFor maps an outcome to the phonecall's final state.
func (d *Dynamics) completionFor(a bridge.Activity) *completion {
	status := statusReceived
	if a.Direction == bridge.Outbound {
		status = statusMade
	}
	mode := LeaveCompleted
	switch {
	case a.State == bridge.Missed:
		mode = d.cfg.Missed
	case a.State == bridge.Unaccepted:
		mode = d.cfg.Unaccepted
	}
	switch mode {
	case LeaveOpen:
		return nil
	case LeaveCanceled:
		return &completion{State: stateCanceled, Status: statusCanceled}
	default:
		return &completion{State: stateCompleted, Status: status}
	}
}

// dvTime writes a time as Dataverse's Edm.DateTimeOffset, UTC, to the
// second (what Dataverse keeps).
func dvTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// durationMinutes is whole minutes of talk, rounded up: a 5-second call
// took a minute of someone's time; an unanswered one took none.
func durationMinutes(talk float64) int {
	if talk <= 0 || math.IsNaN(talk) {
		return 0
	}
	return int(math.Min(math.Ceil(talk/60), math.MaxInt32))
}

func description(a bridge.Activity) string {
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

func secs(f float64) string {
	if f < 0 || math.IsNaN(f) {
		f = 0
	}
	return fmt.Sprintf("%.0f", math.Round(f))
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// marshal encodes a body; maps sort their keys, so the same activity
// always gives the same bytes.
func marshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
