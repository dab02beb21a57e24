package bridge

import "time"

func (e *Engine) blindTransfer(ev Event) {
	t := e.chans[ev.Channel.ID]
	if t == nil {
		e.ignored++
		return
	}
	if tee := e.chans[ev.Peer.ID]; tee != nil {
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
	if l.transferAt.IsZero() {
		l.transferAt = at
	}
	cl := t.callRoot()
	cl.transferBy, cl.transferAt = l.user.Extension, at
	if !l.answered.IsZero() {
		for _, o := range cl.legs {
			if o != l && o.dir == Inbound && o.transferredBy == "" && o.answered.IsZero() && !o.started.Before(l.answered) {
				o.transferredBy = l.user.Extension
			}
		}
	}
	return l.user
}

func (e *Engine) attendedTransfer(ev Event) {
	first := e.chans[ev.Channel.ID]
	if first == nil {
		e.ignored++
		return
	}
	for _, id := range []string{ev.Second, ev.Peer.ID, ev.Target} {
		if c := e.chans[id]; c != nil {
			e.merge(first.call, c.call)
		}
	}
	by := e.transferredBy(first, ev.Time)
	if by == nil {
		if s := e.chans[ev.Second]; s != nil {
			by = e.transferredBy(s, ev.Time)
		}
	}
	if by == nil {
		return
	}
	tee := e.chans[ev.Peer.ID]
	if tee == nil {
		return
	}
	p := e.partyBehind(tee, nil)
	// Whoever was talking to (or being rung by) the transferer now has the
	// transferee on the line: that is their remote party from here on.
	for _, l := range first.callRoot().legs {
		if l.user == by || !l.ended.IsZero() {
			continue
		}
		if l.remote.user == by {
			l.remote = p
			l.rewired = true
			l.transferredBy = by.Extension
		}
	}
}

// takeOver turns the outbound leg of a user who placed a call to nobody
// (dialled a pickup or parking code, dialled no one) into an inbound leg
// of the call its channel is now bridged into: the user answered that
// call's party. It runs before the two calls merge.
func (e *Engine) takeOver(c, other *channel) {
	l := c.uleg
	if l == nil || l.dir != Outbound || len(l.chans) != 1 || !l.answered.IsZero() || c.outStatus != "" || c.varStatus != "" {
		return
	}
	for _, x := range c.callRoot().chans {
		if x.dialer == c {
			return // it did dial somebody
		}
	}
	l.dir = Inbound
	c.offeredAt = c.created
	l.started = c.created
	if p := e.partyBehind(other, c); p.number != "" || p.user != nil {
		l.remote = p
	}
	if oc := other.callRoot(); !oc.transferAt.IsZero() && oc.transferBy != l.user.Extension {
		l.transferredBy = oc.transferBy
	}
}
