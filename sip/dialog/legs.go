package dialog

import (
	"net/netip"
	"slices"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// leg is one INVITE dialog between the PBX and a device or trunk.
type leg struct {
	seq      uint64
	pos      int // in index.live; -1 once ended
	ch       bridge.Channel
	callID   string
	fromTag  string // From tag of the dialog-creating INVITE
	out      bool   // the PBX sent the INVITE
	device   netip.AddrPort
	cseq     uint32 // CSeq of the (latest) initial INVITE, for telling re-INVITE responses apart
	announce bool   // ChannelCreated sent
	up       bool
	ringing  bool
	ended    bool
	// responded: the device answered the INVITE at all (even 100 Trying).
	responded bool
	answerAt  time.Time
	endedAt   time.Time
	lastSeen  time.Time
	// hangup is set when the leg was asked to hang up but is kept until
	// the legs dialled for it are gone, as the PBX keeps its channel.
	hangup      bool
	hangupCause int
	hangupAt    time.Time

	call     string          // the call's id: the first leg's channel ID
	parent   *leg            // the leg this one was dialled for
	children []*leg          // the legs dialled for this one (ended ones too)
	onBehalf *leg            // consult: the user leg it was placed from
	pending  *pendingConsult // consult whose transferer is not known yet
	consult  *leg            // the live consult leg placed from this leg
	bridge   string          // the synthetic bridge it is in
	bridged  bool            // it was in a bridge with someone at some point
	held     string          // consult: the bridge it left for the consultation
	replaces *leg            // INVITE with Replaces: the leg it takes over
	referTo  string          // pending REFER's Refer-To, until the 2xx
	awaiting string          // transferee: the extension a blind transfer will dial
	alone    bool            // in index.alone
	// forwardTo is set on the caller's leg when a leg dialled for it
	// answered 3xx: the PBX follows the redirect to that user or number
	// (the Contact's user part) and dials it next for this leg;
	// forwardBy is the endpoint of the leg that redirected, which the
	// PBX's next INVITE may name in Diversion instead.
	forwardTo string
	forwardBy string
	// far is the outcome of the last leg dialled for this one that
	// failed at the far end (busy, rejected, unreachable): the reason
	// the caller's own leg ends with, whatever generic cause the
	// dialplan then hangs it up with.
	farStatus string
	farCause  int
	// lostChildAt is when a leg dialled for this one last ended without
	// answering.
	lostChildAt time.Time
	// local is, on a consultation leg, the channel Asterisk places the
	// consultation through (the ;1 half of a Local pair, which SIP never
	// shows): reported as ARI shows it, in the consultation bridge with
	// the transferer and dialling the target, so the engine tells the
	// consultation from the call as it does from ARI.
	local *bridge.Channel
	seen  []msgKey
	mark  uint64 // candidate de-duplication in link
}

type msgKey struct {
	status int
	cseq   uint32
	method string
	src    netip.AddrPort
}

// duplicate records k on l and reports whether it was seen before.
func (l *leg) duplicate(k msgKey) bool {
	if slices.Contains(l.seen, k) {
		return true
	}
	if len(l.seen) >= 64 { // a long call with many re-INVITEs
		l.seen = l.seen[32:]
	}
	l.seen = append(l.seen, k)
	return false
}

// liveChild reports whether a leg dialled for l is still open and, with
// ringingOnly, not yet answered.
func (l *leg) liveChild(ringingOnly bool) bool {
	for _, c := range l.children {
		if !c.ended && !(ringingOnly && c.up) {
			return true
		}
	}
	return false
}

// partner is the live leg sharing l's bridge, if any.
func (t *Tracker) partner(l *leg) *leg {
	if l.bridge == "" {
		return nil
	}
	for _, c := range t.ix.members(l.bridge) {
		if c != l && !c.ended {
			return c
		}
	}
	return nil
}

func mainBridge(l *leg) string    { return "sip-" + l.call }
func consultBridge(l *leg) string { return "sip-consult-" + l.ch.ID }

// join puts legs into bridge id, leaving any other bridge first.
func (t *Tracker) join(id string, at time.Time, out func(bridge.Event), legs ...*leg) {
	t.joinBridge(id, false, at, out, legs...)
}

func (t *Tracker) joinBridge(id string, conference bool, at time.Time, out func(bridge.Event), legs ...*leg) {
	for _, l := range legs {
		if l.bridge == id {
			continue
		}
		t.leave(l, at, out)
		l.bridge = id
		t.ix.join(id, l)
		t.ix.unawait(l)
		t.ix.notAlone(l)
		t.ix.notOrigin(l)
		t.emit(bridge.Event{Kind: bridge.BridgeEnter, Time: at, Channel: l.ch, Bridge: id, Conference: conference}, out)
	}
	if ms := t.ix.members(id); len(ms) > 1 {
		for _, m := range ms {
			m.bridged = true
		}
	}
}

func (t *Tracker) leave(l *leg, at time.Time, out func(bridge.Event)) {
	if l.bridge == "" {
		return
	}
	t.emit(bridge.Event{Kind: bridge.BridgeLeave, Time: at, Channel: l.ch, Bridge: l.bridge}, out)
	t.ix.leave(l.bridge, l)
	l.bridge = ""
}

// ensure announces a leg the first time something happens on it.
func (t *Tracker) ensure(l *leg, out func(bridge.Event)) {
	if l.announce {
		return
	}
	l.announce = true
	t.emit(bridge.Event{Kind: bridge.ChannelCreated, Time: l.ch.Created, Channel: l.ch}, out)
}

// update reports a change of l's channel.
func (t *Tracker) update(l *leg, at time.Time, out func(bridge.Event)) {
	t.emit(bridge.Event{Kind: bridge.ChannelUpdated, Time: at, Channel: l.ch}, out)
}

// dial reports dial progress of an outgoing leg.
func (t *Tracker) dial(l *leg, status string, at time.Time, out func(bridge.Event)) {
	t.dialForward(l, status, "", at, out)
}

// dialForward reports dial progress of an outgoing leg; forward, on a
// final status, is where the dialled device redirected the call (a 3xx
// Contact), as Asterisk's Dial reports a forward it follows.
func (t *Tracker) dialForward(l *leg, status, forward string, at time.Time, out func(bridge.Event)) {
	if !l.out {
		return
	}
	ev := bridge.Event{Kind: bridge.Dial, Time: at, Peer: l.ch, DialStatus: status, Forward: forward}
	switch {
	case l.parent != nil:
		ev.Channel = l.parent.ch
	case l.local != nil:
		// A consultation: the PBX's channel in the transferer's
		// consultation bridge dials the target.
		ev.Channel = *l.local
	case l.onBehalf != nil:
		ev.Channel = l.onBehalf.ch
	}
	if status == "" {
		ev.DialString = l.ch.CallerNumber
		if !t.isUser(l.ch.Endpoint) {
			ev.DialString += "@" + l.ch.Endpoint
		}
	}
	t.emit(ev, out)
}

// requestHangup asks a leg to hang up and destroys it once nothing the PBX
// dialled for it is still ringing.
func (t *Tracker) requestHangup(l *leg, at time.Time, cause int, out func(bridge.Event)) {
	if l.ended {
		return
	}
	if !l.hangup {
		l.hangup, l.hangupCause, l.hangupAt = true, cause, at
		t.emit(bridge.Event{Kind: bridge.HangupRequest, Time: at, Channel: l.ch, Cause: cause}, out)
	} else if cause != 0 {
		l.hangupCause = cause
	}
	t.tryDestroy(l, at, out)
}

func (t *Tracker) tryDestroy(l *leg, at time.Time, out func(bridge.Event)) {
	if !l.liveChild(true) {
		t.destroy(l, at, out)
	}
}

// end hangs a leg up now.
func (t *Tracker) end(l *leg, at time.Time, cause int, out func(bridge.Event)) {
	if l.ended {
		return
	}
	if !l.hangup {
		l.hangup, l.hangupAt = true, at
		t.emit(bridge.Event{Kind: bridge.HangupRequest, Time: at, Channel: l.ch, Cause: cause}, out)
	}
	l.hangupCause = cause
	t.destroy(l, at, out)
}

func (t *Tracker) destroy(l *leg, at time.Time, out func(bridge.Event)) {
	if l.ended {
		return
	}
	t.ensure(l, out)
	t.leave(l, at, out)
	l.ended, l.endedAt = true, at
	t.ix.remove(l, at)
	t.emit(bridge.Event{Kind: bridge.ChannelDestroyed, Time: at, Channel: l.ch, Cause: l.hangupCause}, out)
	// A consultation that ends without a transfer returns the transferer
	// to the call it held.
	if b := l.onBehalf; b != nil && !b.ended && b.consult == l {
		b.consult = nil
		if b.held != "" {
			t.join(b.held, at, out, b)
			b.held = ""
		}
	}
	t.dropLocal(l, at, out)
	if p := l.parent; p != nil && !l.up {
		p.lostChildAt = at
	}
	// A caller waiting for its dialled legs to go can go now.
	if p := l.parent; p != nil && p.hangup && !p.ended {
		t.tryDestroy(p, at, out)
	}
}

func (t *Tracker) emit(ev bridge.Event, out func(bridge.Event)) {
	if ev.Time.IsZero() {
		return
	}
	if pc := t.pendingOf(ev); pc != nil {
		pc.events = append(pc.events, ev)
		return
	}
	out(ev)
}

// newLocal makes the consultation channel of consultation leg l (see
// leg.local) and reports its creation; it dials the target and joins the
// consultation bridge when the transferer moves there (holdParty).
func (t *Tracker) newLocal(l *leg, target string, at time.Time, out func(bridge.Event)) {
	ch := bridge.Channel{
		ID: l.ch.ID + ";1", Name: "Local/" + target + "@sip-consult-" + l.ch.ID + ";1",
		State: bridge.StateDown, Exten: target, CallerNumber: l.ch.ConnectedNumber,
		LinkedID: l.call, Created: at,
	}
	l.local = &ch
	t.emit(bridge.Event{Kind: bridge.ChannelCreated, Time: at, Channel: ch}, out)
}

// localUp reports the consultation channel answered with its target.
func (t *Tracker) localUp(l *leg, at time.Time, out func(bridge.Event)) {
	if l.local == nil {
		return
	}
	l.local.State = bridge.StateUp
	t.emit(bridge.Event{Kind: bridge.ChannelUpdated, Time: at, Channel: *l.local}, out)
}

// dropLocal hangs the consultation channel up: the consultation is over
// (the transferer went back, or the transfer completed).
func (t *Tracker) dropLocal(l *leg, at time.Time, out func(bridge.Event)) {
	ch := l.local
	if ch == nil {
		return
	}
	l.local = nil
	if ch.Bridge != "" {
		t.emit(bridge.Event{Kind: bridge.BridgeLeave, Time: at, Channel: *ch, Bridge: ch.Bridge}, out)
		ch.Bridge = ""
	}
	t.emit(bridge.Event{Kind: bridge.HangupRequest, Time: at, Channel: *ch, Cause: 16}, out)
	t.emit(bridge.Event{Kind: bridge.ChannelDestroyed, Time: at, Channel: *ch, Cause: 16}, out)
}
