package bridge

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Direction is seen from the user's side.
type Direction string

const (
	Inbound  Direction = "inbound"  // the user was offered the call
	Outbound Direction = "outbound" // the user placed the call
)

// Outcome is the final state of a user's part in a call.
type Outcome string

const (
	Connected  Outcome = "connected"  // bridged with the remote party
	Missed     Outcome = "missed"     // inbound, offered, never connected
	Unaccepted Outcome = "unaccepted" // outbound, the remote never connected
)

// Reason says why an activity ended as it did.
type Reason string

const (
	ReasonAnswered          Reason = "answered"
	ReasonCancel            Reason = "cancel"   // the caller gave up
	ReasonBusy              Reason = "busy"     // the callee was busy
	ReasonNoAnswer          Reason = "noanswer" // ring timeout
	ReasonRejected          Reason = "rejected" // the callee declined
	ReasonFailed            Reason = "failed"   // unreachable, congestion, …
	ReasonAnsweredElsewhere Reason = "answered_elsewhere"
	ReasonTransferred       Reason = "transferred"
	// ReasonForwarded: the user's phone sent the call on (SIP 302). Such
	// activities are only reported with Config.ShowForwarded.
	ReasonForwarded Reason = "forwarded"
)

// Privacy classes set by the dialplan with CALLBRIDGE_PRIVACY.
const (
	PrivacyWork         = "work"
	PrivacyPrivate      = "private"
	PrivacyUnclassified = "unclassified"
)

// PrivacyVar is the channel variable a dialplan sets to mark a call.
const PrivacyVar = "CALLBRIDGE_PRIVACY"

// Activity is one user's part in one call: the unit callbridge writes to a
// CRM. Field names and meanings are the contract in docs/activity.md.
type Activity struct {
	ID            string    `json:"id"`
	CallID        string    `json:"call_id"`
	User          string    `json:"user"`
	UserName      string    `json:"user_name,omitempty"`
	LocalNumber   string    `json:"local_number"`
	Direction     Direction `json:"direction"`
	Internal      bool      `json:"internal"`
	State         Outcome   `json:"state"`
	Reason        Reason    `json:"reason"`
	RemoteNumber  string    `json:"remote_number"`
	RemoteE164    string    `json:"remote_e164,omitempty"`
	RemoteName    string    `json:"remote_name,omitempty"`
	DDI           string    `json:"ddi,omitempty"`
	StartedAt     time.Time `json:"-"`
	AnsweredAt    time.Time `json:"-"` // zero if never connected
	EndedAt       time.Time `json:"-"`
	RingSeconds   float64   `json:"ring_seconds"`
	TalkSeconds   float64   `json:"talk_seconds"`
	TransferredBy string    `json:"transferred_by,omitempty"`
	ForwardedBy   string    `json:"forwarded_by,omitempty"`
	Privacy       string    `json:"privacy"`
	Source        string    `json:"source"`
}

// ActivityID is the stable id of user's activity in a call: the same call
// seen again (replay, a second source with the same call id, a restart) gives
// the same id, which is what makes delivery idempotent.
func ActivityID(pbx, callID, user string) string {
	h := sha256.Sum256([]byte(pbx + "\x00" + callID + "\x00" + user))
	return hex.EncodeToString(h[:16])
}

// TimeFormat is how activity times are written: RFC 3339, milliseconds, UTC.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

type activityJSON Activity

// MarshalJSON writes times in TimeFormat and leaves answered_at out when the
// user never connected.
func (a Activity) MarshalJSON() ([]byte, error) {
	type times struct {
		StartedAt  string `json:"started_at"`
		AnsweredAt string `json:"answered_at,omitempty"`
		EndedAt    string `json:"ended_at"`
	}
	var t times
	t.StartedAt = a.StartedAt.UTC().Format(TimeFormat)
	if !a.AnsweredAt.IsZero() {
		t.AnsweredAt = a.AnsweredAt.UTC().Format(TimeFormat)
	}
	t.EndedAt = a.EndedAt.UTC().Format(TimeFormat)
	return json.Marshal(struct {
		activityJSON
		times
	}{activityJSON(a), t})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (a *Activity) UnmarshalJSON(b []byte) error {
	var v struct {
		activityJSON
		StartedAt  string `json:"started_at"`
		AnsweredAt string `json:"answered_at"`
		EndedAt    string `json:"ended_at"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*a = Activity(v.activityJSON)
	var err error
	if a.StartedAt, err = parseTime(v.StartedAt); err != nil {
		return err
	}
	if a.AnsweredAt, err = parseTime(v.AnsweredAt); err != nil {
		return err
	}
	a.EndedAt, err = parseTime(v.EndedAt)
	return err
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// LiveState is a user's live call state, for screen pops and agent panels.
type LiveState string

const (
	Ringing LiveState = "ringing"
	Talking LiveState = "connected"
	HungUp  LiveState = "ended"
)

// Transition is what the engine reports as a call progresses: a user's leg
// changing live state, or (Activity != nil) a finished activity.
type Transition struct {
	Time         time.Time
	CallID       string
	User         string
	State        LiveState // empty when Activity is set
	Direction    Direction
	RemoteNumber string
	RemoteName   string
	// Internal: the remote party is another user. DDI: for an inbound
	// external call, the number the caller dialled. Both as the finished
	// activity will give them, known from the first transition on so a
	// caller card can tell its lines apart.
	Internal bool
	DDI      string
	Activity *Activity
}
