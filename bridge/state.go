package bridge

import (
	"math"
	"time"
)

// channel is one leg as the engine tracks it. There is one for every leg
// of every call in progress, so it keeps only what most legs need, in as
// few words as it can (a test pins its size): what few channels use is in
// channelExtra, times are stamps, dial statuses their class.
type channel struct {
	id     string
	user   *User
	call   *call // follow with root()
	uleg   *userLeg
	dialer *channel      // the channel that dialled this one
	x      *channelExtra // nil until the channel needs it: see extra

	callerNum, callerName string
	connNum, connName     string
	exten                 string // as first seen: what was dialled
	bridge                string
	dialString            string

	created, offeredAt, ringAt, endAt stamp

	// The small fields last and together, so that they share words.
	cause      cause16
	state      ChannelState
	peerStatus dialStatus // first final status of the Dial to this channel
	outStatus  dialStatus // status of this channel's own dialling
	varStatus  dialStatus // DIALSTATUS set on it
	// flags are the channel's yes-or-no facts (chanFlag), one bit each:
	// with a byte each they took the channel into the next allocation
	// size class, and there is a channel for every leg of every call in
	// progress.
	flags chanFlag
}

// chanFlag is one of a channel's yes-or-no facts (channel.is, set).
type chanFlag uint16

const (
	fTrunk    chanFlag = 1 << iota
	fIncoming          // called in to the PBX rather than dialled by it
	fGone
	fWasUp  // answered at some point (state Up)
	fPseudo // no party to the call (see pseudoTech)
	// fAdopted: first seen mid-call (a snapshot, or an event about a
	// channel the engine never saw created).
	fAdopted
	// fStray: adopted from a snapshot as a phone the PBX dialled for
	// another channel (AppDial, AppQueue), which the engine has not seen:
	// perhaps all that is left of a call whose other parties are gone
	// (see call.remnant).
	fStray
	// fOriginated: the PBX dialled it on nobody's behalf (ARI POST
	// /channels, AMI Originate, a call file): the first leg of a call
	// placed for a user.
	fOriginated
	// fConference: it was in a conference bridge (ConfBridge, MeetMe).
	fConference
)

// is reports whether f is set on c.
func (c *channel) is(f chanFlag) bool { return c.flags&f != 0 }

// set sets f on c, or clears it.
func (c *channel) set(f chanFlag, on bool) {
	if on {
		c.flags |= f
	} else {
		c.flags &^= f
	}
}

// channelExtra is the part of a channel that only some channels need:
// Local channels, forwards, originates placed through a Local pair,
// consultations. Most legs of most calls have none of these, and the
// engine holds a channel for every leg of every call in progress.
type channelExtra struct {
	localKey  string   // non-empty for Local channels
	partner   *channel // the other half of a Local pair
	localHalf int8     // 1 or 2
	// via, on a user's channel reached through an originated Local pair,
	// is the half that places the call for them (see originated).
	via *channel
	// forwardTo is where this channel asked the call to go instead (SIP
	// 302, Dial's forward); forwarding, on the dialling channel, the user
	// whose forward its next dial follows; forwardedBy, on that next
	// channel, the same user.
	forwardTo   string
	forwarding  *User
	forwardedBy *User
	// consultOf marks the first channel of a consultation the PBX placed
	// for a transferer (the Local channel of Atxfer or the attended-
	// transfer feature code).
	consultOf *consult
	// aloneAt is when the last other party left the channel's bridge:
	// set near a call's end, so most channels in progress have none.
	aloneAt stamp
}

// extra is c's channelExtra, made the first time it is needed: call it to
// set a field of it, and the getters below to read one.
func (c *channel) extra() *channelExtra {
	if c.x == nil {
		c.x = new(channelExtra)
	}
	return c.x
}

func (c *channel) aloneAt() stamp {
	if c.x == nil {
		return stamp{}
	}
	return c.x.aloneAt
}

func (c *channel) localKey() string {
	if c.x == nil {
		return ""
	}
	return c.x.localKey
}

func (c *channel) localHalf() int8 {
	if c.x == nil {
		return 0
	}
	return c.x.localHalf
}

func (c *channel) partner() *channel {
	if c.x == nil {
		return nil
	}
	return c.x.partner
}

func (c *channel) via() *channel {
	if c.x == nil {
		return nil
	}
	return c.x.via
}

func (c *channel) forwardTo() string {
	if c.x == nil {
		return ""
	}
	return c.x.forwardTo
}

func (c *channel) forwarding() *User {
	if c.x == nil {
		return nil
	}
	return c.x.forwarding
}

func (c *channel) forwardedBy() *User {
	if c.x == nil {
		return nil
	}
	return c.x.forwardedBy
}

func (c *channel) consultOf() *consult {
	if c.x == nil {
		return nil
	}
	return c.x.consultOf
}

// cause16 is a Q.850 hang-up cause (0 to 127) in two bytes. A source's
// value outside int16 is kept as the nearest end of it, which, like the
// value itself, is no cause the engine knows: it reads the same.
type cause16 int16

func causeOf(n int) cause16 {
	switch {
	case n > math.MaxInt16:
		return math.MaxInt16
	case n < math.MinInt16:
		return math.MinInt16
	}
	return cause16(n)
}

// dialStatus is what a channel keeps of a Dial's status (DIALSTATUS): the
// reasons read no more of it than these classes.
type dialStatus uint8

const (
	statusNone     dialStatus = iota // not reported
	statusAnswer                     // ANSWER
	statusBusy                       // BUSY
	statusNoAnswer                   // NOANSWER
	statusCancel                     // CANCEL
	statusFailed                     // CONGESTION, CHANUNAVAIL, DONTCALL, TORTURE, INVALIDARGS
	statusOther                      // anything else a source reports
)

func parseDialStatus(s string) dialStatus {
	switch s {
	case "":
		return statusNone
	case "ANSWER":
		return statusAnswer
	case "BUSY":
		return statusBusy
	case "NOANSWER":
		return statusNoAnswer
	case "CANCEL":
		return statusCancel
	case "CONGESTION", "CHANUNAVAIL", "DONTCALL", "TORTURE", "INVALIDARGS":
		return statusFailed
	}
	return statusOther
}

// party is the other side of a user's activity.
type party struct {
	number, name, ddi string
	user              *User
}

type userLeg struct {
	user   *User
	call   *call
	chans  []*channel
	remote party
	x      *legExtra // nil until the leg is transferred, forwarded or consulting
	// started is when the user placed the call (outbound) or was first
	// offered it (inbound); startedAt() refines the latter to ringing.
	started stamp
	// answered is when the user's leg was first bridged with another party.
	answered    stamp
	ended       stamp
	live        int32
	rewired     bool // remote set by a transfer: keep it
	consult     bool // a transferer's consultation that led to no transfer
	sentRinging bool
	sentEnded   bool
	// outbound: the user placed the call; else they were offered it. A
	// bool rather than a Direction (a string) keeps a leg in the 160-byte
	// size class.
	outbound bool
}

func (l *userLeg) direction() Direction {
	if l.outbound {
		return Outbound
	}
	return Inbound
}

type call struct {
	id     string
	parent *call
	legs   []*userLeg
	chans  []*channel
	linked []string   // source linked ids that point at this call
	x      *callExtra // nil until the call is transferred or consulted in
	first  stamp
	live   int32
	// timedOut: a consultation call the PBX's no-answer timer ended
	// (consult.timedOut); its offers were not cancelled by anyone.
	timedOut bool
	// privacy is the most restrictive class any channel was marked with
	// (privacyClass), as a byte: as a string it took the call into the
	// next size class.
	privacy privacyCode
}

// privacyCode is a privacy class in a byte: none yet, or one of the three.
type privacyCode uint8

const (
	privacyNone privacyCode = iota
	privacyWork
	privacyUnclassified
	privacyPrivate
)

// privacyClass is the call's class ("" when no channel was marked).
func (cl *call) privacyClass() string {
	switch cl.privacy {
	case privacyWork:
		return PrivacyWork
	case privacyUnclassified:
		return PrivacyUnclassified
	case privacyPrivate:
		return PrivacyPrivate
	}
	return ""
}

// setPrivacy sets the call's class, one privacyClass gives.
func (cl *call) setPrivacy(class string) {
	switch class {
	case PrivacyWork:
		cl.privacy = privacyWork
	case PrivacyUnclassified:
		cl.privacy = privacyUnclassified
	case PrivacyPrivate:
		cl.privacy = privacyPrivate
	default:
		cl.privacy = privacyNone
	}
}

// legExtra is the part of a user leg only transfers, forwards and
// consultations need.
type legExtra struct {
	// transferredBy and forwardedBy are the extensions of the users who
	// transferred or forwarded the call to this one.
	transferredBy string
	forwardedBy   string
	transferAt    stamp // the user transferred the call away
	leftAt        stamp // the user went back from a consultation
}

// extra is l's legExtra, made the first time it is needed.
func (l *userLeg) extra() *legExtra {
	if l.x == nil {
		l.x = new(legExtra)
	}
	return l.x
}

func (l *userLeg) transferredBy() string {
	if l.x == nil {
		return ""
	}
	return l.x.transferredBy
}

func (l *userLeg) forwardedBy() string {
	if l.x == nil {
		return ""
	}
	return l.x.forwardedBy
}

func (l *userLeg) transferAt() stamp {
	if l.x == nil {
		return stamp{}
	}
	return l.x.transferAt
}

func (l *userLeg) leftAt() stamp {
	if l.x == nil {
		return stamp{}
	}
	return l.x.leftAt
}

// callExtra is the part of a call only transferred calls need.
type callExtra struct {
	transferBy string // the extension of the user who last transferred it
	transferAt stamp
	consults   []*consult
}

// extra is cl's callExtra, made the first time it is needed.
func (cl *call) extra() *callExtra {
	if cl.x == nil {
		cl.x = new(callExtra)
	}
	return cl.x
}

// transfer is who last transferred cl and when, if anybody did.
func (cl *call) transfer() (by string, at stamp) {
	if cl.x == nil {
		return "", stamp{}
	}
	return cl.x.transferBy, cl.x.transferAt
}

func (cl *call) consults() []*consult {
	if cl.x == nil {
		return nil
	}
	return cl.x.consults
}

// consult is a consultation call the PBX placed for a transferer on the
// transferer's own channel (Asterisk's attended-transfer feature: DTMF or
// AMI Atxfer): it joins the transferer's call (AMI links it by linkedid,
// both sources by the bridge the transferer moves into) but is a call of
// its own unless the transfer completes.
type consult struct {
	by        *channel // the transferer's channel
	root      *channel // the consultation's first channel (Local ;1)
	at        time.Time
	answered  time.Time // the consulted party answered
	left      time.Time // the transferer went back
	completed bool      // the attended transfer went through
	// keyed: the transferer pressed keys while consulting (the abort
	// code, say): going back was their doing, not the PBX's timer.
	keyed bool
}

// remnant reports whether the call is nothing but a stray channel, maybe
// with the Local channels that reached it: a phone the PBX dialled, found
// in a snapshot, that met no other party before it hung up. It is what was
// left of a call that ended while the source was away (its caller hung up,
// or it parked or handed the call on, and the phone was being hung up),
// not a call: reporting it would make one of its last moments ("connected"
// with no talk, "missed" when a colleague answered), under the phone's own
// channel id as call id, where an engine that saw the call reports it
// whole under the caller's; two instances on one store would deliver the
// call twice.
func (c *call) remnant() bool {
	var party *channel
	for _, ch := range c.chans {
		if ch.is(fPseudo) || ch.localKey() != "" {
			continue
		}
		if party != nil {
			return false
		}
		party = ch
	}
	return party != nil && party.is(fStray)
}

func (c *call) root() *call {
	for c.parent != nil {
		if c.parent.parent != nil {
			c.parent = c.parent.parent
		}
		c = c.parent
	}
	return c
}

func (c *channel) callRoot() *call { return c.call.root() }
