package bridge

import "time"

func (e *Engine) blindTransfer(ev Event) {
	t := e.chans.get(ev.Channel.ID)
	if t == nil {
		e.ignored++
		return
	}
	if tee := e.chans.get(ev.Peer.ID); tee != nil {
		e.merge(t.call, tee.call)
	}
	e.transferredBy(t, ev.Time)
}

// transferredBy records that the user behind channel t handed the call on.
// Legs offered the call after the transferer answered and not connected
// yet are the transfer's targets even when the PBX reported their dial
// before the transfer itself.
func (e *Engine) transferredBy(t *channel, at time.Time) *User {
	l := t.uleg
	if l == nil {
		return nil
	}
	if l.transferAt().isZero() {
		l.extra().transferAt = e.stamp(at)
	}
	cl := t.callRoot()
	cl.extra().transferBy, cl.x.transferAt = l.user.Extension, e.stamp(at)
	if !l.answered.isZero() {
		for _, o := range cl.legs {
			if o != l && !o.outbound && o.transferredBy() == "" && o.answered.isZero() && !e.at(o.started).Before(e.at(l.answered)) {
				o.extra().transferredBy = l.user.Extension
			}
		}
	}
	return l.user
}

func (e *Engine) attendedTransfer(ev Event) {
	first := e.chans.get(ev.Channel.ID)
	if first == nil {
		e.ignored++
		return
	}
	for _, id := range []string{ev.Second, ev.Peer.ID, ev.Target} {
		if c := e.chans.get(id); c != nil {
			e.merge(first.call, c.call)
		}
	}
	for _, k := range first.callRoot().consults() {
		if k.by == first || k.by.id == ev.Second || k.root.id == ev.Target {
			k.completed = true // the consultation became the transfer
		}
	}
	by := e.transferredBy(first, ev.Time)
	if by == nil {
		if s := e.chans.get(ev.Second); s != nil {
			by = e.transferredBy(s, ev.Time)
		}
	}
	if by == nil {
		return
	}
	tee := e.chans.get(ev.Peer.ID)
	if tee == nil {
		return
	}
	p := e.partyBehind(tee, nil)
	// Whoever was talking to (or being rung by) the transferer now has the
	// transferee on the line: that is their remote party from here on. The
	// transferer handed on the transferee, whom they were talking to
	// before the consultation (known anyway, unless the call was adopted
	// mid-consultation).
	for _, l := range first.callRoot().legs {
		if l.user == by && (p.number != "" || p.user != nil) {
			l.remote, l.rewired = p, true
			continue
		}
		if l.user == by || !l.ended.isZero() {
			continue
		}
		if l.remote.user == by {
			l.remote = p
			l.rewired = true
			l.extra().transferredBy = by.Extension
		}
	}
}

// takeOver turns the outbound leg of a user who placed a call to nobody
// (dialled a pickup or parking code, dialled no one) into an inbound leg
// of the call its channel is now bridged into: the user answered that
// call's party. It runs before the two calls merge. A channel first seen in
// a snapshot is not judged so: its dial was never seen.
func (e *Engine) takeOver(c, other *channel, at time.Time) {
	l := c.uleg
	if l == nil || !l.outbound || len(l.chans) != 1 || !l.answered.isZero() || c.outStatus != statusNone || c.varStatus != statusNone || c.via() != nil || c.is(fAdopted) {
		return
	}
	for _, x := range c.callRoot().chans {
		if x.dialer == c {
			return // it did dial somebody
		}
	}
	if l.sentRinging {
		// The live side saw the user place a call to the code: that
		// call ends here, and the leg goes on in the call it took over
		// (connected, under that call's id), so no card of the code's
		// call stays ringing.
		e.emitLive(l, HungUp, at)
	}
	l.outbound = false
	c.offeredAt = c.created
	l.started = c.created
	if p := e.partyBehind(other, c); p.number != "" || p.user != nil {
		l.remote = p
	}
	if by, at := other.callRoot().transfer(); !at.isZero() && by != l.user.Extension {
		l.extra().transferredBy = by
	}
}

// consultation recognises the attended-transfer feature at work (DTMF or
// AMI Atxfer; main/bridge_basic.c): the PBX requests a Local channel to the
// number the transferer gave, imparts it, still ringing, into a new bridge
// and moves the transferer's own channel there (calling_target_enter), so
// the transferer's channel c, already connected, enters a bridge whose
// only other party is a Local half nobody dialled that never answered. A
// consultation the transferer places from a second channel (a SIP phone's
// own attended transfer) is an ordinary call and needs nothing here.
func (e *Engine) consultation(c *channel, others []*channel, at time.Time) {
	l := c.uleg
	if l == nil || l.answered.isZero() || len(others) != 1 {
		return
	}
	m := others[0]
	if m.localKey() == "" || m.localHalf() != 1 || m.dialer != nil || m.is(fOriginated) || m.is(fWasUp) || m.uleg != nil || m.consultOf() != nil {
		return
	}
	k := &consult{by: c, root: m, at: at}
	m.extra().consultOf = k
	cl := c.callRoot()
	cl.extra().consults = append(cl.x.consults, k)
}

// consultAnswered notes that the consulted party answered while the
// transferer was still consulting.
func (e *Engine) consultAnswered(k *consult, at time.Time) {
	if k.answered.IsZero() && k.left.IsZero() && k.by.bridge != "" && k.by.bridge == k.root.bridge {
		k.answered = at
	}
}

// keyed notes a digit from channel c's device: a transferer consulting
// who presses keys (the abort code, atxferabort) calls the consultation
// off themselves.
func (e *Engine) keyed(c *channel) {
	for _, k := range c.callRoot().consults() {
		if k.by == c && k.left.IsZero() && !k.completed {
			k.keyed = true
		}
	}
}

// timedOut says a consultation ended with nobody answering and the
// transferer back with the held party without having pressed a key or
// hung up: the PBX's no-answer timer (features.conf
// atxfernoanswertimeout) gave up on it, which is no answer, not the
// transferer cancelling.
func (e *Engine) timedOut(k *consult) bool {
	return k.answered.IsZero() && !k.keyed && !k.left.IsZero() && (k.by.endAt.isZero() || e.at(k.by.endAt).After(k.left))
}
