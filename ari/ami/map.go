package ami

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/staskobzar/goami2"

	"github.com/callbridge/callbridge/bridge"
)

// AMI event names this package reads.
const (
	evNewchannel               = "Newchannel"
	evNewstate                 = "Newstate"
	evNewCallerid              = "NewCallerid"
	evNewConnectedLine         = "NewConnectedLine"
	evDialBegin                = "DialBegin"
	evDialState                = "DialState"
	evDialEnd                  = "DialEnd"
	evBridgeEnter              = "BridgeEnter"
	evBridgeLeave              = "BridgeLeave"
	evBlindTransfer            = "BlindTransfer"
	evAttendedTransfer         = "AttendedTransfer"
	evVarSet                   = "VarSet"
	evSoftHangupRequest        = "SoftHangupRequest"
	evHangupRequest            = "HangupRequest"
	evHangup                   = "Hangup"
	evDTMFEnd                  = "DTMFEnd"
	evCoreShowChannel          = "CoreShowChannel"
	evCoreShowChannelsComplete = "CoreShowChannelsComplete"
)

// varDialStatus is the variable Dial() leaves its outcome in: the only
// trace of a Dial whose peer channel was never created (unreachable
// endpoint), so the engine wants it along with the privacy mark.
const varDialStatus = "DIALSTATUS"

// mappedEvents are the events Map turns into bridge events. Everything else
// is skipped before parsing. Deliberately absent, because another event
// already carries what they say:
//   - LocalBridge, LocalOptimizationBegin/End: the engine pairs Local
//     channels by name (";1"/";2"), and an optimisation shows up as the
//     BridgeEnter/BridgeLeave and Hangup events of the swap itself.
//   - AgentCalled, AgentConnect, AgentRingNoAnswer, AgentComplete,
//     QueueCaller*: each duplicates a DialBegin/DialEnd/BridgeEnter of the
//     queue's own Dial (ARI sees only those, so mapping both would make the
//     two sources disagree).
//   - Pickup: the picking channel's BridgeEnter says who connected.
//   - BridgeCreate/Destroy/Merge: membership is carried by Enter/Leave; a
//     merge is followed by explicit Leave/Enter of each moved channel.
var mappedEvents = map[string]bool{
	evNewchannel:        true,
	evNewstate:          true,
	evNewCallerid:       true,
	evNewConnectedLine:  true,
	evDialBegin:         true,
	evDialState:         true,
	evDialEnd:           true,
	evBridgeEnter:       true,
	evBridgeLeave:       true,
	evBlindTransfer:     true,
	evAttendedTransfer:  true,
	evVarSet:            true,
	evSoftHangupRequest: true,
	evHangupRequest:     true,
	evHangup:            true,
	evDTMFEnd:           true,
}

// Map turns one AMI event into a bridge event. received is when the message
// arrived; it is the event's time only when the message has no Timestamp
// header (manager.conf timestampevents=no). ok is false for messages the
// engine has no use for (responses, other events, variables other than
// CALLBRIDGE_PRIVACY and DIALSTATUS, failed transfers). err is set when an event the engine
// needs lacks a field it cannot do without or has one that does not parse;
// such an event is not delivered.
func Map(m *goami2.Message, received time.Time) (ev bridge.Event, ok bool, err error) {
	return mapHeaders(m.Headers(), received)
}

// mapHeaders is Map over a message's headers, as parseHeaders or
// goami2.Parse gives them.
func mapHeaders(m headers, received time.Time) (ev bridge.Event, ok bool, err error) {
	name := m.field("Event")
	if !mappedEvents[name] {
		return bridge.Event{}, false, nil
	}
	var variable string
	if name == evVarSet {
		if variable = m.field("Variable"); strings.TrimLeft(variable, "_") != bridge.PrivacyVar && variable != varDialStatus {
			return bridge.Event{}, false, nil
		}
	}
	ev.Time, err = eventTime(m, received)
	if err != nil {
		return bridge.Event{}, false, fmt.Errorf("ami: %s: %w", name, err)
	}
	switch name {
	case evNewchannel:
		ev.Kind = bridge.ChannelCreated
		ev.Channel = readChannel(m, pfxNone)
		ev.Channel.Created = ev.Time
	case evNewstate, evNewCallerid, evNewConnectedLine:
		ev.Kind = bridge.ChannelUpdated
		ev.Channel = readChannel(m, pfxNone)
	case evDialBegin, evDialState, evDialEnd:
		ev.Kind = bridge.Dial
		// The caller is absent when the PBX dialled on nobody's behalf
		// (the consultation leg of an attended transfer).
		ev.Channel = readChannel(m, pfxNone)
		ev.Peer = readChannel(m, pfxDest)
		if ev.Peer.ID == "" {
			return bridge.Event{}, false, fmt.Errorf("ami: %s: no DestUniqueid", name)
		}
		ev.DialString = m.field("DialString")
		if name != evDialBegin {
			ev.DialStatus = m.field("DialStatus")
			ev.Forward = m.field("Forward")
		}
		return ev, true, nil
	case evBridgeEnter, evBridgeLeave:
		ev.Kind = bridge.BridgeEnter
		if name == evBridgeLeave {
			ev.Kind = bridge.BridgeLeave
		}
		ev.Channel = readChannel(m, pfxNone)
		ev.Bridge = m.field("BridgeUniqueid")
		if ev.Bridge == "" {
			return bridge.Event{}, false, fmt.Errorf("ami: %s: no BridgeUniqueid", name)
		}
		ev.Conference = isConference(m.field("BridgeCreator"), m.field("BridgeType"))
	case evBlindTransfer:
		if r := m.field("Result"); r != "" && r != "Success" {
			return bridge.Event{}, false, nil
		}
		ev.Kind = bridge.BlindTransfer
		ev.Channel = readChannel(m, pfxTransferer)
		ev.Peer = readChannel(m, pfxTransferee)
		ev.Exten = m.field("Extension")
		ev.Context = m.field("Context")
	case evAttendedTransfer:
		if r := m.field("Result"); r != "" && r != "Success" {
			return bridge.Event{}, false, nil
		}
		ev.Kind = bridge.AttendedTransfer
		ev.Channel = readChannel(m, pfxOrigTransferer)
		ev.Peer = readChannel(m, pfxTransferee)
		ev.Second = m.field("SecondTransfererUniqueid")
		ev.Target = m.field("TransferTargetUniqueid")
	case evVarSet:
		ev.Kind = bridge.VarSet
		ev.Channel = readChannel(m, pfxNone)
		ev.Var = variable
		ev.Value = m.field("Value")
	case evDTMFEnd:
		// Only the keys a device sent (a transferer's abort code); DTMF
		// the PBX plays out says nothing about the call. DTMFBegin
		// duplicates it.
		if m.field("Direction") != "Received" {
			return bridge.Event{}, false, nil
		}
		ev.Kind = bridge.DTMF
		ev.Channel = readChannel(m, pfxNone)
		ev.Value = m.field("Digit")
	case evSoftHangupRequest, evHangupRequest, evHangup:
		ev.Kind = bridge.HangupRequest
		if name == evHangup {
			ev.Kind = bridge.ChannelDestroyed
		}
		ev.Channel = readChannel(m, pfxNone)
		if ev.Cause, err = cause(m.field("Cause")); err != nil {
			return bridge.Event{}, false, fmt.Errorf("ami: %s: %w", name, err)
		}
	}
	if ev.Channel.ID == "" {
		return bridge.Event{}, false, fmt.Errorf("ami: %s: no channel Uniqueid", name)
	}
	return ev, true, nil
}

// isConference tells bridges where separate calls meet from the basic
// two-party bridges of Dial, Queue and transfers, like ari.isConference: AMI
// calls ARI's bridge "class" BridgeType.
func isConference(creator, typ string) bool {
	return creator == "ConfBridge" || typ == "stasis"
}

// field returns the value of the first header called name. Asterisk spells
// header names consistently, so an exact match is tried first; the fold keeps
// hand-written or proxied streams working.
func field(m *goami2.Message, name string) string {
	return headers(m.Headers()).field(name)
}

// headers are a message's header lines in order, as goami2 gives them.
type headers []goami2.Header

// field is the package's field over headers.
func (hs headers) field(name string) string {
	for i := range hs {
		if hs[i].Name == name {
			return hs[i].Value
		}
	}
	for i := range hs {
		if strings.EqualFold(hs[i].Name, name) {
			return hs[i].Value
		}
	}
	return ""
}

// Prefixes AMI puts before the standard channel fields of each party.
const (
	pfxNone           = ""
	pfxDest           = "Dest"
	pfxTransferer     = "Transferer"
	pfxTransferee     = "Transferee"
	pfxOrigTransferer = "OrigTransferer"
)

// readChannel reads the standard channel block (Channel, Uniqueid, Linkedid,
// ChannelStateDesc, CallerIDNum, …) that AMI writes with prefix before each
// name, in one pass over the headers.
func readChannel(m headers, prefix string) bridge.Channel {
	var c bridge.Channel
	for _, h := range m {
		if len(h.Name) <= len(prefix) || h.Name[:len(prefix)] != prefix {
			continue
		}
		switch h.Name[len(prefix):] {
		case "Channel":
			c.Name = h.Value
		case "Uniqueid":
			c.ID = h.Value
		case "Linkedid":
			c.LinkedID = h.Value
		case "ChannelStateDesc":
			c.State = bridge.ParseChannelState(h.Value)
		case "CallerIDNum":
			c.CallerNumber = known(h.Value)
		case "CallerIDName":
			c.CallerName = known(h.Value)
		case "ConnectedLineNum":
			c.ConnectedNumber = known(h.Value)
		case "ConnectedLineName":
			c.ConnectedName = known(h.Value)
		case "Exten":
			c.Exten = h.Value
		case "Context":
			c.Context = h.Value
		case "Application":
			// Only CoreShowChannel (and Newexten, not mapped) carry it;
			// "AppDial" marks a channel the PBX dialled out on.
			c.App = h.Value
		}
	}
	return c
}

// known maps AMI's "<unknown>" placeholder to "", which is how ARI reports
// an absent caller id, so both sources give the engine the same value.
func known(s string) string {
	if s == "<unknown>" {
		return ""
	}
	return s
}

// eventTime reads the Timestamp header ("1795277374.515122", epoch seconds
// with microseconds, written when manager.conf has timestampevents=yes),
// falling back to received when there is none.
func eventTime(m headers, received time.Time) (time.Time, error) {
	ts := m.field("Timestamp")
	if ts == "" {
		return received, nil
	}
	return parseTimestamp(ts)
}

func parseTimestamp(ts string) (time.Time, error) {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || s < 0 || len(frac) > 9 {
		return time.Time{}, fmt.Errorf("bad Timestamp %q", ts)
	}
	var ns int64
	if frac != "" {
		n, err := strconv.ParseUint(frac, 10, 32)
		if err != nil {
			return time.Time{}, fmt.Errorf("bad Timestamp %q", ts)
		}
		ns = int64(n)
		for i := len(frac); i < 9; i++ {
			ns *= 10
		}
	}
	return time.Unix(s, ns).UTC(), nil
}

// cause parses a Q.850 cause; absent means unknown (0).
func cause(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 127 {
		return 0, fmt.Errorf("bad Cause %q", s)
	}
	return n, nil
}
