package bridge

import "time"

func (e *Engine) enter(c *channel, b string, conference bool, at time.Time) {
	if b == "" {
		return
	}
	if c.bridge != "" && c.bridge != b {
		e.leave(c)
	}
	if c.bridge == b {
		return
	}
	c.bridge = b
	members := append(e.bridges[b], c)
	e.bridges[b] = members
	if !conference {
		for _, m := range members[:len(members)-1] {
			if m.callRoot() != c.callRoot() {
				// Two calls meet: whoever dialled a code rather than a
				// person now takes over the other call (pickup, a
				// parked call retrieved).
				e.takeOver(c, m)
				e.takeOver(m, c)
			}
			e.merge(m.call, c.call)
		}
	}
	if len(members) < 2 {
		return
	}
	for _, m := range members {
		if m.uleg != nil && m.uleg.answered.IsZero() {
			e.connected(m.uleg, at)
		}
	}
}

func (e *Engine) leave(c *channel) {
	if c.bridge == "" {
		return
	}
	members := e.bridges[c.bridge]
	for i, m := range members {
		if m == c {
			members = append(members[:i], members[i+1:]...)
			break
		}
	}
	if len(members) == 0 {
		delete(e.bridges, c.bridge)
	} else {
		e.bridges[c.bridge] = members
	}
	c.bridge = ""
}

func (e *Engine) connected(l *userLeg, at time.Time) {
	l.answered = at
	if !l.rewired {
		if p := e.remoteOf(l); p.number != "" || p.user != nil {
			l.remote = p
		}
	}
	e.emitLive(l, Talking, at)
}

// merge joins two calls: they turned out to be one conversation. The call
// that began first keeps its id; users who had a leg in both keep one.
func (e *Engine) merge(a, b *call) {
	a, b = a.root(), b.root()
	if a == b {
		return
	}
	if b.first.Before(a.first) || (b.first.Equal(a.first) && b.id < a.id) {
		a, b = b, a
	}
	b.parent = a
	e.calls--
	a.live += b.live
	a.chans = append(a.chans, b.chans...)
	b.chans = nil
	a.privacy = stricter(a.privacy, b.privacy)
	if b.transferAt.After(a.transferAt) {
		a.transferAt, a.transferBy = b.transferAt, b.transferBy
	}
	a.linked = append(a.linked, b.linked...)
	b.linked = nil
	for _, l := range b.legs {
		var into *userLeg
		for _, x := range a.legs {
			if x.user == l.user {
				into = x
				break
			}
		}
		if into == nil {
			l.call = a
			a.legs = append(a.legs, l)
			continue
		}
		into.absorb(l)
	}
	b.legs = nil
}

// absorb folds another leg of the same user into l: earliest start and
// answer, one set of channels.
func (l *userLeg) absorb(o *userLeg) {
	for _, c := range o.chans {
		c.uleg = l
	}
	l.chans = append(l.chans, o.chans...)
	l.live += o.live
	if !o.started.IsZero() && (l.started.IsZero() || o.started.Before(l.started)) {
		l.started = o.started
	}
	if !o.answered.IsZero() && (l.answered.IsZero() || o.answered.Before(l.answered)) {
		l.answered = o.answered
	}
	if l.transferAt.IsZero() {
		l.transferAt = o.transferAt
	}
	if l.transferredBy == "" {
		l.transferredBy = o.transferredBy
	}
	l.sentRinging = l.sentRinging || o.sentRinging
}

func (e *Engine) destroy(c *channel, cause int, at time.Time) {
	c.gone = true
	if c.endAt.IsZero() {
		c.endAt = at
	}
	if cause != 0 {
		c.cause = cause
	}
	e.leave(c)
	e.live--
	if c.localKey != "" {
		if pair := e.locals[c.localKey]; pair != nil {
			pair[c.localHalf-1] = nil
			if pair[0] == nil && pair[1] == nil {
				delete(e.locals, c.localKey)
			}
		}
	}
	if l := c.uleg; l != nil {
		l.live--
		if l.live == 0 && !l.sentEnded {
			l.sentEnded = true
			l.ended = l.end()
			e.emitLive(l, HungUp, l.ended)
		}
	}
	cl := c.callRoot()
	cl.live--
	if cl.live <= 0 {
		e.finish(cl)
	}
}

// finish writes the activities of a call whose last channel is gone.
func (e *Engine) finish(cl *call) {
	e.calls--
	for _, l := range cl.legs {
		a := e.activity(cl, l)
		if a == nil {
			continue
		}
		e.out = append(e.out, Transition{
			Time:         a.EndedAt,
			CallID:       a.CallID,
			User:         a.User,
			Direction:    a.Direction,
			RemoteNumber: a.RemoteNumber,
			RemoteName:   a.RemoteName,
			Activity:     a,
		})
	}
	for _, c := range cl.chans {
		if e.chans[c.id] == c {
			delete(e.chans, c.id)
		}
		if c.bridge != "" {
			e.leave(c)
		}
	}
	for _, id := range cl.linked {
		delete(e.linked, id)
	}
	cl.chans, cl.legs, cl.linked = nil, nil, nil
}
