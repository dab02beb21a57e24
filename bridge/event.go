package bridge

import "time"

// Kind says what an Event reports.
type Kind uint8

// Event kinds. Each names the fields of Event it uses.
const (
	// KindUnknown is the zero Kind; the engine ignores such events.
	KindUnknown Kind = iota
	// ChannelCreated: Channel describes a new channel.
	ChannelCreated
	// ChannelUpdated: Channel carries a new state, caller id or connected
	// line for a known channel. Empty fields leave what is known untouched.
	ChannelUpdated
	// Dial: Channel is the dialling channel, Peer the dialled one.
	// Channel's ID is empty when the PBX dialled on nobody's behalf: a
	// Dial begun so for a channel that starts a call of its own is an
	// originate (ARI POST /channels, AMI Originate, a call file: the dial
	// API), one for a channel the source already linked to a call is
	// the PBX dialling for that call (an attended-transfer consult; ARI
	// and AMI report only the consult's progress, no begin). DialStatus is "" when dialling
	// begins, then progress such as "RINGING", then a final status:
	// "ANSWER", "BUSY", "NOANSWER", "CANCEL", "CONGESTION", "CHANUNAVAIL",
	// "DONTCALL" … A final status with Forward set says the dialled phone
	// sent the call elsewhere (SIP 302) and the PBX follows it: the next
	// Dial from the same Channel is to the forward's target.
	Dial
	// BridgeEnter and BridgeLeave: Channel entered or left Bridge.
	BridgeEnter
	BridgeLeave
	// BlindTransfer: Channel is the transferring party, Peer the party
	// transferred (may be empty), Exten and Context the destination.
	BlindTransfer
	// AttendedTransfer: Channel is the transferer's first leg (the one to
	// the party being transferred), Second the transferer's consultation
	// leg, Peer the transferee and Target the transfer target.
	AttendedTransfer
	// VarSet: channel variable Var of Channel was set to Value. The engine
	// uses PrivacyVar (also with the inheritance prefixes _ and __) and
	// DIALSTATUS (the outcome of a Dial that created
	// no peer channel, e.g. an unreachable endpoint); sources may drop the
	// rest.
	VarSet
	// HangupRequest: Channel was asked to hang up (Cause when known).
	HangupRequest
	// ChannelDestroyed: Channel is gone (Cause when known).
	ChannelDestroyed
	// Snapshot: after a (re)connect the source lists every live channel in
	// Channels (Channel.Bridge filled in where known). Channels the engine
	// knows but the snapshot lacks ended in the gap; they are closed at
	// Time, which the source sets to the last moment it knew them alive.
	Snapshot
	// DTMF: Channel received a keypad digit (Value) from its device (ARI
	// ChannelDtmfReceived, AMI DTMFEnd with Direction Received, CEL
	// DTMF). The engine uses it to tell a transferer who called a
	// consultation off (the abort code) from the PBX giving up on it.
	DTMF
)

var kindNames = [...]string{
	KindUnknown:      "Unknown",
	ChannelCreated:   "ChannelCreated",
	ChannelUpdated:   "ChannelUpdated",
	Dial:             "Dial",
	BridgeEnter:      "BridgeEnter",
	BridgeLeave:      "BridgeLeave",
	BlindTransfer:    "BlindTransfer",
	AttendedTransfer: "AttendedTransfer",
	VarSet:           "VarSet",
	HangupRequest:    "HangupRequest",
	ChannelDestroyed: "ChannelDestroyed",
	Snapshot:         "Snapshot",
	DTMF:             "DTMF",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Unknown"
}

// ChannelState is a channel's signalling state, as Asterisk names them.
type ChannelState uint8

// Channel states. Ring means the channel is calling in to the PBX (the
// PBX hears it ring); Ringing means the PBX is ringing the device.
const (
	StateUnknown ChannelState = iota
	StateDown
	StateRing
	StateRinging
	StateUp
	StateBusy
)

// ParseChannelState maps Asterisk's state names ("Down", "Rsrvd", "Ring",
// "Ringing", "Up", "Busy", "Dialing", …) to a ChannelState.
func ParseChannelState(s string) ChannelState {
	switch s {
	case "Down", "Rsrvd", "OffHook", "Dialing", "Pre-ring", "Dialing Offhook":
		return StateDown
	case "Ring":
		return StateRing
	case "Ringing":
		return StateRinging
	case "Up":
		return StateUp
	case "Busy":
		return StateBusy
	}
	return StateUnknown
}

// Channel is what a source knows of one channel (one call leg) at the time of
// an event. Only ID is required; empty fields mean "not reported".
type Channel struct {
	ID   string // unique per channel: Asterisk's Uniqueid, a SIP leg key
	Name string // e.g. "PJSIP/101-00000003", "Local/102@from-internal-00000001;2"
	// Endpoint is the device or trunk the channel belongs to ("101",
	// "pstn"). Sources that know it set it; otherwise it is parsed from
	// Name.
	Endpoint string
	// LinkedID groups channels of one call when the source knows it
	// (AMI Linkedid). Optional: the engine also links channels by dials,
	// Local pairs, bridges and transfers.
	LinkedID        string
	State           ChannelState
	CallerNumber    string
	CallerName      string
	ConnectedNumber string
	ConnectedName   string
	Exten           string // dialplan extension (at creation: what was dialled)
	Context         string
	// App is the dialplan application the channel is in when known.
	// "AppDial" and "AppQueue" mark a channel the PBX dialled out on
	// (Asterisk's "(Outgoing Line)"), "AppDial2" one it rang for the
	// dial API (an originate), which tells the two sides apart for
	// channels first seen mid-call, after a reconnect. Snapshots carry
	// every application; ARI's events carry these marks (the engine reads
	// nothing else of it outside a snapshot); AMI's events none.
	App     string
	Created time.Time // when the PBX created it, if reported
	Bridge  string    // Snapshot only: the bridge it is in
	// Bridged (Snapshot only) is when Bridge was made, zero if the source
	// does not say (ARI does; Dial and Queue make the bridge when the
	// call is answered, so an adopted call is never taken as answered
	// earlier and its talk time is never overstated).
	Bridged time.Time
	// Conference (Snapshot only): Bridge is a conference (see
	// Event.Conference).
	Conference bool
}

// Event is one thing a source reported, in source-neutral form. Time is the
// PBX's own timestamp for it; the engine never reads a clock.
type Event struct {
	Kind    Kind
	Time    time.Time
	Channel Channel
	Peer    Channel // Dial: the dialled channel; transfers: the transferee

	DialStatus string // Dial
	DialString string // Dial, as given to Dial() ("101", "0401234567@pstn")
	// Forward, on a Dial's final status, is where the dialled phone
	// forwarded the call (SIP 302 Moved Temporarily: the Contact;
	// Asterisk's Dial "forward"; CEL's FORWARD): the PBX follows it, and
	// the next Dial from the same Channel is to that target.
	Forward string

	Bridge string // BridgeEnter, BridgeLeave
	// Conference marks a bridge whose members are separate calls that
	// meet (ConfBridge, a Stasis mixing bridge), so being in it does not
	// make them one call.
	Conference bool

	Second  string // AttendedTransfer: the transferer's consultation channel ID
	Target  string // AttendedTransfer: the transfer target channel ID
	Exten   string // BlindTransfer destination
	Context string

	Var, Value string // VarSet; Value also DTMF's digit

	Cause int // HangupRequest, ChannelDestroyed: Q.850 cause, 0 when unknown

	Channels []Channel // Snapshot
	// Listed (Snapshot) is when the PBX listed the channels, by its own
	// clock as far as the source knows it (ARI's /asterisk/ping; AMI: the
	// listing's arrival), zero if unknown. A channel found connected was
	// connected by then: without a better bound it is answered then.
	Listed time.Time
}
