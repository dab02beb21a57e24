package cel

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Row is one CEL record: the fields every CEL backend writes (cel_custom's
// field names in comments, the SQL column names in the struct tags of the
// readers). Empty strings mean "not recorded".
type Row struct {
	// Seq is the order Asterisk wrote the row in: the table's id column
	// or the CSV line. 0 when the source has neither.
	Seq int64
	// Event is the CEL event type, "CHAN_START", "HANGUP", …; a
	// user-defined event (CELGenUserEvent) is EventUser with its name in
	// UserEvent.
	Event     string
	UserEvent string
	Time      time.Time // the event's own time, UTC

	CallerName, CallerNum string // name, num (cid_name, cid_num)
	ANI, RDNIS, DNID      string // ani, rdnis, dnid
	Exten, Context        string
	ChanName              string
	AppName, AppData      string
	AccountCode           string
	UniqueID, LinkedID    string
	Peer                  string // the other bridge members, comma separated
	UserField             string
	Extra                 string // eventextra: a JSON object for most events
}

// CEL event types as Asterisk 22 names them (main/cel.c cel_event_types).
const (
	EventChanStart        = "CHAN_START"
	EventChanEnd          = "CHAN_END"
	EventHangup           = "HANGUP"
	EventAnswer           = "ANSWER"
	EventAppStart         = "APP_START"
	EventAppEnd           = "APP_END"
	EventParkStart        = "PARK_START"
	EventParkEnd          = "PARK_END"
	EventUser             = "USER_DEFINED"
	EventBridgeEnter      = "BRIDGE_ENTER"
	EventBridgeExit       = "BRIDGE_EXIT"
	EventBlindTransfer    = "BLINDTRANSFER"
	EventAttendedTransfer = "ATTENDEDTRANSFER"
	EventPickup           = "PICKUP"
	EventForward          = "FORWARD"
	EventLinkedIDEnd      = "LINKEDID_END"
	EventLocalOptimize    = "LOCAL_OPTIMIZE"
	EventLocalOptBegin    = "LOCAL_OPTIMIZE_BEGIN"
	EventStreamBegin      = "STREAM_BEGIN"
	EventStreamEnd        = "STREAM_END"
	EventDTMF             = "DTMF"
)

// eventCodes are the numbers a backend writes into an integer eventtype
// column (cel_pgsql, cel_odbc): enum ast_cel_event_type in Asterisk 22's
// include/asterisk/cel.h. (cel_pgsql.conf.sample still lists the numbering
// of Asterisk 1.8, which is not what 22 writes.)
var eventCodes = [...]string{
	1: EventChanStart, 2: EventChanEnd, 3: EventHangup, 4: EventAnswer,
	5: EventAppStart, 6: EventAppEnd, 7: EventBridgeEnter, 8: EventBridgeExit,
	9: EventParkStart, 10: EventParkEnd, 11: EventBlindTransfer, 12: EventAttendedTransfer,
	13: EventUser, 14: EventLinkedIDEnd, 15: EventPickup, 16: EventForward,
	17: EventLocalOptimize, 18: EventLocalOptBegin, 19: EventStreamBegin, 20: EventStreamEnd,
	21: EventDTMF,
}

// EventCode is the number of a CEL event type in an integer eventtype
// column, 0 for names it does not know.
func EventCode(name string) int {
	for i, n := range eventCodes {
		if n != "" && n == name {
			return i
		}
	}
	return 0
}

var knownEvents = func() map[string]bool {
	m := make(map[string]bool, len(eventCodes))
	for _, n := range eventCodes {
		if n != "" {
			m[n] = true
		}
	}
	return m
}()

// SetEvent fills Event and UserEvent from what a backend wrote as the event
// type: a name, a number (integer eventtype columns), or, for a user-defined
// event, the event's own name (the default, show_user_defined=no) or
// "USER_DEFINED" with the name in userdeftype.
func (r *Row) SetEvent(eventType, userDefType string) error {
	t := strings.TrimSpace(eventType)
	if t == "" {
		return errors.New("no event type")
	}
	if n, err := strconv.Atoi(t); err == nil {
		if n <= 0 || n >= len(eventCodes) || eventCodes[n] == "" {
			return fmt.Errorf("unknown event type %d", n)
		}
		t = eventCodes[n]
	}
	switch {
	case t == EventUser:
		r.Event, r.UserEvent = EventUser, strings.TrimSpace(userDefType)
	case knownEvents[t]:
		r.Event, r.UserEvent = t, ""
	default:
		// cel_custom, cel_pgsql and cel_odbc write a user-defined event
		// under its own name unless show_user_defined=yes.
		r.Event, r.UserEvent = EventUser, t
	}
	return nil
}

// extra is the JSON that Asterisk 12 and later write into eventextra, with
// the keys main/cel.c uses for the events mapped here.
type extra struct {
	HangupCause json.RawMessage `json:"hangupcause"`
	DialStatus  string          `json:"dialstatus"`

	BridgeID string `json:"bridge_id"`

	Exten      string `json:"extension"`
	Context    string `json:"context"`
	Transferee string `json:"transferee_channel_uniqueid"`
	Channel2   string `json:"channel2_uniqueid"`
	Target     string `json:"transfer_target_channel_uniqueid"`

	ParkerDialString string `json:"parker_dial_string"`

	Digit   string `json:"digit"`   // DTMF
	Forward string `json:"forward"` // FORWARD: where the dialled phone sent the call

	Extra string `json:"extra"` // CELGenUserEvent's text
}

// parseExtra decodes eventextra. Empty is no extra.
func parseExtra(s string) (extra, error) {
	var x extra
	s = strings.TrimSpace(s)
	if s == "" {
		return x, nil
	}
	if err := json.Unmarshal([]byte(s), &x); err != nil {
		return x, fmt.Errorf("eventextra is not a JSON object: %.60q", s)
	}
	return x, nil
}

// cause reads hangupcause, a JSON number (a string in hand-made data).
func (x extra) cause() (int, error) {
	raw := strings.Trim(strings.TrimSpace(string(x.HangupCause)), `"`)
	if raw == "" || raw == "null" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > 127 {
		return 0, fmt.Errorf("bad hangupcause %.20q", raw)
	}
	return n, nil
}

// na maps main/cel.c's "N/A" (no such channel) to "".
func na(s string) string {
	if s == "N/A" {
		return ""
	}
	return s
}
