package subscribe

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// ContentType is the body type of RFC 4235 dialog-event notifications.
const ContentType = "application/dialog-info+xml"

// Limits on what ParseDialogInfo accepts. A dialog-info document for one
// extension lists a handful of dialogs; anything far bigger is a fault or an
// attack, and refusing it bounds the work one NOTIFY can cause.
const (
	MaxBodySize = 64 << 10
	MaxDialogs  = 256
)

// DocState says whether a document lists all of the entity's dialogs
// (full) or only the ones that changed (partial).
type DocState string

const (
	Full    DocState = "full"
	Partial DocState = "partial"
)

// DialogState is a dialog's state in RFC 4235 terms.
type DialogState string

const (
	Trying     DialogState = "trying"
	Proceeding DialogState = "proceeding"
	Early      DialogState = "early"
	Confirmed  DialogState = "confirmed"
	Terminated DialogState = "terminated"
)

// Direction of a dialog seen from the monitored entity: the initiator
// placed the call, the recipient was offered it. Empty when not reported
// (Asterisk only sets it on early dialogs).
type Direction string

const (
	Initiator Direction = "initiator"
	Recipient Direction = "recipient"
)

// Info is one parsed dialog-info document.
type Info struct {
	Version uint64
	State   DocState
	Entity  string
	Dialogs []Dialog
}

// Dialog is one <dialog> element.
type Dialog struct {
	ID        string
	CallID    string
	LocalTag  string
	RemoteTag string
	Direction Direction
	State     DialogState
	// Event and Code are the optional attributes of <state>: why the
	// dialog reached it ("cancelled", "rejected", …) and the SIP code.
	Event  string
	Code   int
	Local  Participant
	Remote Participant
}

// Participant is a <local> or <remote> element.
type Participant struct {
	Identity string // the identity URI, e.g. "sip:0401234567@pbx"
	Display  string // the identity's display name
	Target   string // the target URI
}

// Number is the participant's number: the user part of the identity URI
// (else of the target), percent-decoded. Asterisk writes "invalid" when it
// has no number; that gives "".
func (p Participant) Number() string {
	n := uriUser(p.Identity)
	if n == "" {
		n = uriUser(p.Target)
	}
	if n == "invalid" {
		return ""
	}
	return n
}

// uriUser returns the user part of a sip:, sips: or tel: URI, or "".
func uriUser(u string) string {
	u = strings.TrimSpace(u)
	u = strings.TrimPrefix(strings.TrimSuffix(u, ">"), "<")
	scheme, rest, ok := strings.Cut(u, ":")
	if !ok {
		return ""
	}
	switch strings.ToLower(scheme) {
	case "sip", "sips":
		at := strings.LastIndexByte(rest, '@')
		if at < 0 {
			return ""
		}
		rest = rest[:at]
		// user:password@host: the password is never a number.
		rest, _, _ = strings.Cut(rest, ":")
	case "tel":
	default:
		return ""
	}
	rest, _, _ = strings.Cut(rest, ";")
	if d, err := url.PathUnescape(rest); err == nil {
		rest = d
	}
	return rest
}

// The XML shapes. Tags name local parts only, so the dialog-info namespace
// (urn:ietf:params:xml:ns:dialog-info) and prefixed variants all match.
type xmlInfo struct {
	XMLName xml.Name    `xml:"dialog-info"`
	Version *string     `xml:"version,attr"`
	State   string      `xml:"state,attr"`
	Entity  string      `xml:"entity,attr"`
	Dialogs []xmlDialog `xml:"dialog"`
}

type xmlDialog struct {
	ID        *string         `xml:"id,attr"`
	CallID    string          `xml:"call-id,attr"`
	LocalTag  string          `xml:"local-tag,attr"`
	RemoteTag string          `xml:"remote-tag,attr"`
	Direction string          `xml:"direction,attr"`
	State     *xmlState       `xml:"state"`
	Local     *xmlParticipant `xml:"local"`
	Remote    *xmlParticipant `xml:"remote"`
}

type xmlState struct {
	Value string `xml:",chardata"`
	Event string `xml:"event,attr"`
	Code  string `xml:"code,attr"`
}

type xmlParticipant struct {
	Identity *struct {
		URI     string `xml:",chardata"`
		Display string `xml:"display,attr"`
	} `xml:"identity"`
	Target *struct {
		URI string `xml:"uri,attr"`
	} `xml:"target"`
}

// ErrNotDialogInfo is returned for well-formed XML whose root is not
// <dialog-info>.
var ErrNotDialogInfo = errors.New("dialoginfo: root element is not dialog-info")

// ParseDialogInfo parses an application/dialog-info+xml body. It enforces
// what RFC 4235 makes mandatory (version, state full|partial, each dialog's
// id and state) and is lenient about the rest: an unknown direction is
// treated as unreported. Errors name the problem; nothing panics.
func ParseDialogInfo(b []byte) (*Info, error) {
	if len(b) > MaxBodySize {
		return nil, fmt.Errorf("dialoginfo: body of %d bytes exceeds %d", len(b), MaxBodySize)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("dialoginfo: empty body")
	}
	var x xmlInfo
	d := xml.NewDecoder(bytes.NewReader(b))
	// Bodies declare UTF-8 in practice; accept the ASCII-compatible labels
	// some stacks write rather than failing on the declaration alone.
	d.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin1":
			return r, nil
		}
		return nil, fmt.Errorf("unsupported charset %q", label)
	}
	if err := d.Decode(&x); err != nil {
		var se xml.UnmarshalError
		if errors.As(err, &se) && strings.Contains(string(se), "expected element type <dialog-info>") {
			return nil, ErrNotDialogInfo
		}
		return nil, fmt.Errorf("dialoginfo: %w", err)
	}
	info := &Info{Entity: strings.TrimSpace(x.Entity)}
	if x.Version == nil {
		return nil, errors.New("dialoginfo: version: required")
	}
	v, err := strconv.ParseUint(strings.TrimSpace(*x.Version), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("dialoginfo: version %q: not a non-negative integer", clip(*x.Version))
	}
	info.Version = v
	switch st := DocState(strings.TrimSpace(x.State)); st {
	case Full, Partial:
		info.State = st
	case "":
		return nil, errors.New("dialoginfo: state: required")
	default:
		return nil, fmt.Errorf("dialoginfo: state %q: want full or partial", clip(x.State))
	}
	if len(x.Dialogs) > MaxDialogs {
		return nil, fmt.Errorf("dialoginfo: %d dialogs exceed %d", len(x.Dialogs), MaxDialogs)
	}
	info.Dialogs = make([]Dialog, 0, len(x.Dialogs))
	for i, xd := range x.Dialogs {
		dl, err := convertDialog(xd)
		if err != nil {
			return nil, fmt.Errorf("dialoginfo: dialog[%d]: %w", i, err)
		}
		info.Dialogs = append(info.Dialogs, dl)
	}
	return info, nil
}

func convertDialog(xd xmlDialog) (Dialog, error) {
	var dl Dialog
	if xd.ID == nil || strings.TrimSpace(*xd.ID) == "" {
		return dl, errors.New("id: required")
	}
	dl.ID = strings.TrimSpace(*xd.ID)
	dl.CallID = strings.TrimSpace(xd.CallID)
	dl.LocalTag = strings.TrimSpace(xd.LocalTag)
	dl.RemoteTag = strings.TrimSpace(xd.RemoteTag)
	switch dir := Direction(strings.TrimSpace(xd.Direction)); dir {
	case Initiator, Recipient:
		dl.Direction = dir
	}
	if xd.State == nil {
		return dl, errors.New("state: required")
	}
	switch st := DialogState(strings.ToLower(strings.TrimSpace(xd.State.Value))); st {
	case Trying, Proceeding, Early, Confirmed, Terminated:
		dl.State = st
	case "":
		return dl, errors.New("state: empty")
	default:
		return dl, fmt.Errorf("state %q: unknown", clip(xd.State.Value))
	}
	dl.Event = strings.TrimSpace(xd.State.Event)
	if c := strings.TrimSpace(xd.State.Code); c != "" {
		// The code is informational; a bad one is dropped, not fatal.
		if n, err := strconv.Atoi(c); err == nil && n >= 100 && n <= 699 {
			dl.Code = n
		}
	}
	dl.Local = convertParticipant(xd.Local)
	dl.Remote = convertParticipant(xd.Remote)
	return dl, nil
}

func convertParticipant(x *xmlParticipant) Participant {
	var p Participant
	if x == nil {
		return p
	}
	if x.Identity != nil {
		p.Identity = strings.TrimSpace(x.Identity.URI)
		p.Display = strings.TrimSpace(x.Identity.Display)
	}
	if x.Target != nil {
		p.Target = strings.TrimSpace(x.Target.URI)
	}
	return p
}

// clip shortens hostile values quoted (with %q) in errors.
func clip(s string) string {
	const n = 40
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}
