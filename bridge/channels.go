package bridge

import (
	"strings"
	"time"
)

func (e *Engine) created(ev Event) {
	ch := &ev.Channel
	if ch.ID == "" {
		e.ignored++
		return
	}
	if c := e.chans.get(ch.ID); c != nil {
		e.update(c, ch, ev.Time)
		return
	}
	c := e.newChannel(ch, ev.Time)
	c.set(fIncoming, ch.State == StateRing || (ch.State == StateUp && !dialledApp(ch.App)))
	e.begin(c, ev.Time)
}

// known returns the channel an event is about, adopting it if the engine
// has not seen it yet (the source connected mid-call).
func (e *Engine) known(at time.Time, ch *Channel) *channel {
	if ch.ID == "" {
		e.ignored++
		return nil
	}
	if c := e.chans.get(ch.ID); c != nil {
		if c.is(fGone) {
			return nil
		}
		return c
	}
	if ch.Name == "" {
		e.ignored++
		return nil
	}
	c := e.newChannel(ch, at)
	c.set(fAdopted, true)
	c.set(fIncoming, !dialledApp(ch.App) && (ch.State == StateRing || ch.State == StateUp))
	e.begin(c, at)
	if c.user != nil && dialledApp(ch.App) {
		// A phone the PBX dialled: the user was offered the call (or,
		// rung by an originate, is placing it), as adopt reads a
		// snapshot; offered no later than the channel's creation.
		c.set(fOriginated, ch.App == "AppDial2")
		dir := Inbound
		if c.is(fOriginated) {
			dir = Outbound
		}
		l := e.userLeg(c, dir, e.at(c.created))
		if dir == Inbound && ch.State == StateUp && l.answered.isZero() {
			// Found answered: connected by now (late, never early).
			e.connected(l, at)
		}
	}
	return c
}

// dialledApp tells the applications Asterisk shows on a channel it dialled
// out on ("(Outgoing Line)"): AppDial and AppQueue for Dial and Queue,
// AppDial2 for the dial API of Originate, call files and ARI.
func dialledApp(app string) bool { return app == "AppDial" || app == "AppQueue" || app == "AppDial2" }

// pseudoTech lists channel technologies that are no party to a call: the
// announcer and recorder ConfBridge puts in a conference, snoop channels.
var pseudoTech = map[string]bool{"CBAnn": true, "CBRec": true, "Snoop": true, "Announcer": true, "Recorder": true}

func (e *Engine) newChannel(ch *Channel, at time.Time) *channel {
	c := &channel{
		id:         ch.ID,
		state:      ch.State,
		callerNum:  ch.CallerNumber,
		callerName: ch.CallerName,
		connNum:    ch.ConnectedNumber,
		connName:   ch.ConnectedName,
		exten:      ch.Exten,
	}
	created := ch.Created
	if created.IsZero() || created.After(at) {
		created = at
	}
	c.created = e.stamp(created)
	tech, res := splitName(ch.Name)
	c.set(fPseudo, pseudoTech[tech])
	if ch.State == StateUp {
		c.set(fWasUp, true)
	}
	if strings.EqualFold(tech, "Local") {
		if i := strings.LastIndexByte(res, ';'); i >= 0 {
			x := c.extra()
			x.localKey = ch.Name[:len(ch.Name)-len(res)+i]
			if res[i+1:] == "2" {
				x.localHalf = 2
			} else {
				x.localHalf = 1
			}
		}
	}
	if c.localKey() == "" && !c.is(fPseudo) {
		endpoint := ch.Endpoint
		if endpoint == "" {
			endpoint = endpointOf(res)
		}
		c.set(fTrunk, e.trunks[endpoint])
		if !c.is(fTrunk) {
			c.user = e.userFor(endpoint)
		}
	}
	if ch.State == StateRinging {
		c.ringAt = e.stamp(at)
	}
	cl := &call{id: c.id, first: c.created, live: 1}
	cl.chans = append(cl.chans, c)
	c.call = cl
	e.chans.put(c)
	e.calls++
	e.live++
	if key := c.localKey(); key != "" {
		pair := e.locals[key]
		if pair == nil {
			pair = new([2]*channel)
			e.locals[key] = pair
		}
		half := c.localHalf()
		pair[half-1] = c
		if other := pair[2-half]; other != nil {
			c.x.partner, other.extra().partner = other, c
			e.merge(c.call, other.call)
		}
	}
	if ch.LinkedID != "" {
		if lc := e.linked[ch.LinkedID]; lc != nil {
			e.merge(c.call, lc)
		} else {
			// The call the channel is in now: a Local pair may have
			// merged the one it began with into another just now, and a
			// call's linked ids are forgotten when its root ends.
			root := cl.root()
			e.linked[ch.LinkedID] = root
			root.linked = append(root.linked, ch.LinkedID)
		}
	}
	return c
}

// begin starts a user's outbound leg for a channel that calls in to the PBX.
func (e *Engine) begin(c *channel, at time.Time) {
	if c.user != nil && c.is(fIncoming) {
		e.userLeg(c, Outbound, at)
	}
}

// splitName splits "PJSIP/101-00000003" into "PJSIP" and "101-00000003".
func splitName(name string) (tech, rest string) {
	i := strings.IndexByte(name, '/')
	if i < 0 {
		return "", name
	}
	return name[:i], name[i+1:]
}

// endpointOf strips the sequence suffix Asterisk adds to channel names:
// "101-00000003" -> "101", "pstn-0000000b" -> "pstn".
func endpointOf(res string) string {
	if i := strings.LastIndexByte(res, '-'); i > 0 {
		return res[:i]
	}
	return res
}

func (e *Engine) update(c *channel, ch *Channel, at time.Time) {
	if ch.State != StateUnknown {
		if ch.State == StateRinging && c.ringAt.isZero() {
			c.ringAt = e.stamp(at)
			e.ringing(c, at)
		}
		if ch.State == StateUp && !c.is(fWasUp) {
			c.set(fWasUp, true)
			if k := c.consultOf(); k != nil {
				e.consultAnswered(k, at)
			}
		}
		c.state = ch.State
	}
	if ch.CallerNumber != "" || ch.CallerName != "" {
		c.callerNum, c.callerName = ch.CallerNumber, ch.CallerName
	}
	if ch.ConnectedNumber != "" || ch.ConnectedName != "" {
		c.connNum, c.connName = ch.ConnectedNumber, ch.ConnectedName
	}
	if c.exten == "" || c.exten == "s" {
		if ch.Exten != "" {
			c.exten = ch.Exten
		}
	}
}

func (e *Engine) dial(ev Event) {
	if ev.Peer.ID == "" {
		e.ignored++
		return
	}
	peer := e.known(ev.Time, &ev.Peer)
	if peer == nil {
		return
	}
	var caller *channel
	if ev.Channel.ID != "" {
		caller = e.known(ev.Time, &ev.Channel)
	}
	switch st := ev.DialStatus; st {
	case "":
		e.dialBegin(caller, peer, ev.DialString, ev.Time)
	case "RINGING", "PROGRESS", "PROCEEDING":
		e.adoptDialer(caller, peer)
		if peer.ringAt.isZero() && st == "RINGING" {
			peer.ringAt = e.stamp(ev.Time)
			e.ringing(peer, ev.Time)
		}
	default:
		e.adoptDialer(caller, peer)
		if peer.peerStatus == statusNone {
			peer.peerStatus = parseDialStatus(st)
		}
		if caller != nil && caller.outStatus != statusAnswer {
			caller.outStatus = parseDialStatus(st)
		}
		if ev.Forward != "" {
			// The dialled phone sent the call on (SIP 302): app_dial's
			// do_forward hangs this channel up and dials the target from
			// the same caller next.
			peer.extra().forwardTo = ev.Forward
			if caller != nil {
				caller.extra().forwarding = peer.user
			}
		}
		if k := peer.consultOf(); k != nil && st == "ANSWER" {
			e.consultAnswered(k, ev.Time)
		}
	}
}

// dialBegin handles the start of a Dial: caller (nil when the PBX dialled
// on nobody's behalf) now rings peer.
func (e *Engine) dialBegin(caller, peer *channel, dialString string, at time.Time) {
	if peer.offeredAt.isZero() {
		peer.offeredAt = e.stamp(at)
	}
	peer.set(fIncoming, false)
	if caller != nil && caller != peer {
		peer.dialer = caller
		e.merge(caller.call, peer.call)
	}
	if peer.dialString == "" {
		peer.dialString = dialString
	}
	if caller != nil && caller.forwarding() != nil {
		peer.extra().forwardedBy, caller.x.forwarding = caller.x.forwarding, nil
	}
	if peer.user == nil && peer.localKey() == "" && !peer.is(fPseudo) && (caller == nil || caller.user == nil) {
		// The PBX rings a user's own mobile for a call: a forward.
		// (A user calling a colleague's mobile is an external call.)
		if u := e.mobiles[mobileKey(dialNumber(peer.dialString))]; u != nil {
			peer.user = u
		}
	}
	// An originate: the PBX rings a user's phone (directly, or through a
	// Local pair it originated) to place a call for them. The user is the
	// caller, whatever the signalling says.
	switch {
	case caller == nil:
		peer.set(fOriginated, !e.onBehalfOfAnother(peer))
	case caller.localKey() != "" && caller.partner() != nil && caller.partner().is(fOriginated) && peer.user != nil && !e.dialledBy(caller.partner()):
		peer.set(fOriginated, true)
		peer.extra().via = caller.partner()
	}
	if caller != nil && caller.user != nil && caller.uleg == nil {
		// A dialled user channel that now dials out (an originate seen
		// from the middle) is placing the call.
		e.userLeg(caller, Outbound, e.at(caller.created))
	}
	if caller != nil && caller.uleg != nil && !caller.uleg.outbound && caller.dialer == nil {
		caller.uleg.outbound = true
		caller.uleg.started = caller.created
	}
	if peer.user != nil {
		if peer.is(fOriginated) {
			e.userLeg(peer, Outbound, at)
		} else {
			e.userLeg(peer, Inbound, at)
		}
	}
}

// onBehalfOfAnother tells a Dial begun with no caller for a channel that
// already belongs to a call with other live parties (linked to it by the
// source, as AMI's linkedid does): the PBX dialled it for that call (a
// consultation it placed for a transferer; a SIP capture shows the
// attended-transfer feature's call so), not an originate, whose first leg
// starts a call of its own.
func (e *Engine) onBehalfOfAnother(peer *channel) bool {
	for _, c := range peer.callRoot().chans {
		if c != peer && c != peer.partner() && !c.is(fGone) {
			return true
		}
	}
	return false
}

// adoptDialer links a channel first seen mid-call to the channel a later
// Dial event says dialled it: the begin of that Dial was never seen.
func (e *Engine) adoptDialer(caller, peer *channel) {
	if caller == nil || caller == peer || !peer.is(fAdopted) || peer.dialer != nil {
		return
	}
	peer.dialer = caller
	peer.set(fIncoming, false)
	e.merge(caller.call, peer.call)
	if l := peer.uleg; l != nil && !l.outbound && !l.rewired {
		if p := e.remoteOf(l); p.number != "" || p.user != nil {
			l.remote = p
		}
	}
}

// dialledBy reports whether c has dialled any channel.
func (e *Engine) dialledBy(c *channel) bool {
	for _, x := range c.callRoot().chans {
		if x.dialer == c {
			return true
		}
	}
	return false
}

// forwarder is the user whose forward brought the call to channel c: the
// forward marks the channel dialled in its place, which may be the outer
// half of a Local pair leading to c.
func forwarder(c *channel) *User {
	for i := 0; c != nil && i < 32; i++ {
		if u := c.forwardedBy(); u != nil {
			return u
		}
		p := c.partner()
		if p != nil && p.forwardedBy() != nil {
			return p.forwardedBy()
		}
		switch {
		case c.dialer != nil:
			c = c.dialer
		case p != nil && p.dialer != nil:
			c = p.dialer
		default:
			return nil
		}
	}
	return nil
}

// userLeg attaches user channel c to its user's leg in the call, making one
// if this is the user's first channel in it. A user offered the same call
// twice keeps one leg.
func (e *Engine) userLeg(c *channel, dir Direction, at time.Time) *userLeg {
	if c.uleg != nil {
		return c.uleg
	}
	cl := c.callRoot()
	var l *userLeg
	for _, x := range cl.legs {
		if x.user == c.user {
			l = x
			break
		}
	}
	if l == nil {
		l = &userLeg{user: c.user, call: cl, outbound: dir == Outbound}
		if dir == Outbound {
			l.started = c.created
		}
		if by, at := cl.transfer(); !at.isZero() && by != c.user.Extension {
			l.extra().transferredBy = by
		}
		cl.legs = append(cl.legs, l)
	}
	if l.forwardedBy() == "" {
		if u := forwarder(c); u != nil && u != c.user {
			l.extra().forwardedBy = u.Extension
		}
	}
	if l.sentEnded {
		// The call came back to a user whose part had ended (a parked
		// call the lot calls back): the live stream shows it again.
		l.sentEnded, l.sentRinging = false, false
	}
	c.uleg = l
	l.chans = append(l.chans, c)
	l.live++
	if len(l.chans) == 1 && !l.rewired {
		l.remote = e.remoteOf(l)
	}
	if dir == Inbound {
		if c.offeredAt.isZero() {
			c.offeredAt = e.stamp(at)
		}
		if l.started.isZero() || e.at(c.offeredAt).Before(e.at(l.started)) {
			l.started = c.offeredAt
		}
		if !c.ringAt.isZero() {
			e.ringing(c, e.at(c.ringAt))
		}
	} else if !l.sentRinging {
		l.sentRinging = true
		e.emitLive(l, Ringing, at)
	}
	return l
}

func (e *Engine) ringing(c *channel, at time.Time) {
	l := c.uleg
	if l == nil || l.outbound {
		return
	}
	if !l.sentRinging {
		l.sentRinging = true
		e.emitLive(l, Ringing, at)
	}
}

func (e *Engine) varSet(ev Event) {
	c := e.chans.get(ev.Channel.ID)
	if c == nil {
		e.ignored++
		return
	}
	// Set(__CALLBRIDGE_PRIVACY=…) marks the variable for inheritance; the
	// underscores are not part of its name.
	switch strings.TrimLeft(ev.Var, "_") {
	case PrivacyVar:
		cl := c.callRoot()
		cl.setPrivacy(stricter(cl.privacyClass(), privacyClass(ev.Value)))
	case "DIALSTATUS":
		if ev.Value != "" {
			c.varStatus = parseDialStatus(ev.Value)
		}
	}
}

// hangupRequest notes when a channel was asked to hang up and why: that is
// when the party's part ended, even if the channel lingers.
func (e *Engine) hangupRequest(ev Event) {
	c := e.chans.get(ev.Channel.ID)
	if c == nil || c.is(fGone) {
		e.ignored++
		return
	}
	if c.endAt.isZero() {
		c.endAt = e.stamp(ev.Time)
	}
	if ev.Cause != 0 && c.cause == 0 {
		c.cause = causeOf(ev.Cause)
	}
}
