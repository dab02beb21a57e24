package bridge

import "time"

func (e *Engine) enter(c *channel, b string, conference bool, at time.Time) {
	if b == "" {
		return
	}
	if c.bridge != "" && c.bridge != b {
		e.leave(c, at)
	}
	if c.bridge == b {
		return
	}
	c.bridge = b
	members := append(e.bridges[b], c)
	e.bridges[b] = members
	if conference {
		c.set(fConference, true)
	} else {
		if k := c.consultOf(); k != nil && len(members) > 1 {
			// The consultation is moved in with another party: the
			// transfer is being completed (bridge_basic merges the
			// bridges), even if its own event was lost in a gap.
			k.completed = true
		}
		e.consultation(c, members[:len(members)-1], at)
		for _, m := range members[:len(members)-1] {
			if m.callRoot() != c.callRoot() {
				// Two calls meet: whoever dialled a code rather than a
				// person now takes over the other call (pickup, a
				// parked call retrieved).
				e.takeOver(c, m, at)
				e.takeOver(m, c, at)
			}
			e.merge(m.call, c.call)
		}
	}
	// A user is connected once another party is in the bridge with them;
	// an announcer or a recorder is no party.
	parties := 0
	for _, m := range members {
		if !m.is(fPseudo) {
			parties++
		}
	}
	if parties < 2 {
		return
	}
	for _, m := range members {
		if m.x != nil {
			m.x.aloneAt = stamp{}
		}
		l := m.uleg
		switch {
		case l == nil || m.is(fPseudo):
		case l.answered.isZero():
			e.connected(l, at)
		case !l.transferAt().isZero() && e.at(m.created).After(e.at(l.transferAt())):
			// The call came back to a user who had handed it on: the
			// parking lot called the parker back and they answered. They
			// did not transfer it after all.
			l.x.transferAt = stamp{}
			e.emitLive(l, Talking, at)
		}
	}
}

// leave takes c out of its bridge at time at.
func (e *Engine) leave(c *channel, at time.Time) {
	if c.bridge == "" {
		return
	}
	for _, k := range c.callRoot().consults() {
		if k.by == c && k.left.IsZero() && k.root.bridge == c.bridge {
			k.left = at // the transferer went back, or hung up
		}
	}
	members := e.bridges[c.bridge]
	for i, m := range members {
		if m == c {
			members = append(members[:i], members[i+1:]...)
			break
		}
	}
	if !c.is(fPseudo) {
		// A user left alone in the bridge talks to nobody from the moment
		// the other party hung up (or left): the PBX may take a while to
		// hang the user's phone up too.
		left := at
		if end := e.at(c.endAt); !end.IsZero() && end.Before(left) {
			left = end
		}
		var rest []*channel
		for _, m := range members {
			if !m.is(fPseudo) {
				rest = append(rest, m)
			}
		}
		if len(rest) == 1 && rest[0].uleg != nil && rest[0].aloneAt().isZero() {
			rest[0].extra().aloneAt = e.stamp(left)
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
	l.answered = e.stamp(at)
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
	if af, bf := e.at(a.first), e.at(b.first); bf.Before(af) || (bf.Equal(af) && b.id < a.id) {
		a, b = b, a
	}
	b.parent = a
	e.calls--
	a.live += b.live
	// The channels point at the root itself, not through b, so that b,
	// which nothing else needs, is not kept for as long as they are.
	for _, c := range b.chans {
		c.call = a
	}
	a.chans = append(a.chans, b.chans...)
	b.chans = nil
	a.setPrivacy(stricter(a.privacyClass(), b.privacyClass()))
	_, aAt := a.transfer()
	if by, bAt := b.transfer(); e.at(bAt).After(e.at(aAt)) {
		a.extra().transferAt, a.x.transferBy = bAt, by
	}
	a.linked = append(a.linked, b.linked...)
	b.linked = nil
	if len(b.consults()) > 0 {
		a.extra().consults = append(a.x.consults, b.x.consults...)
		b.x.consults = nil
	}
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
		e.absorb(into, l)
	}
	b.legs = nil
}

// absorb folds another leg of the same user into l: earliest start and
// answer, one set of channels.
func (e *Engine) absorb(l, o *userLeg) {
	for _, c := range o.chans {
		c.uleg = l
	}
	l.chans = append(l.chans, o.chans...)
	l.live += o.live
	if !o.started.isZero() && (l.started.isZero() || e.at(o.started).Before(e.at(l.started))) {
		l.started = o.started
	}
	if !o.answered.isZero() && (l.answered.isZero() || e.at(o.answered).Before(e.at(l.answered))) {
		l.answered = o.answered
	}
	if l.transferAt().isZero() && o.transferAt() != (stamp{}) {
		l.extra().transferAt = o.x.transferAt
	}
	if l.transferredBy() == "" && o.transferredBy() != "" {
		l.extra().transferredBy = o.x.transferredBy
	}
	if l.forwardedBy() == "" && o.forwardedBy() != "" {
		l.extra().forwardedBy = o.x.forwardedBy
	}
	l.sentRinging = l.sentRinging || o.sentRinging
}

func (e *Engine) destroy(c *channel, cause int, at time.Time) {
	c.set(fGone, true)
	if c.endAt.isZero() {
		c.endAt = e.stamp(at)
	}
	if cause != 0 {
		c.cause = causeOf(cause)
	}
	e.leave(c, at)
	e.live--
	if key := c.localKey(); key != "" {
		if pair := e.locals[key]; pair != nil {
			pair[c.localHalf()-1] = nil
			if pair[0] == nil && pair[1] == nil {
				delete(e.locals, key)
			}
		}
	}
	if l := c.uleg; l != nil {
		l.live--
		if l.live == 0 && !l.sentEnded {
			l.sentEnded = true
			end := e.end(l)
			l.ended = e.stamp(end)
			e.emitLive(l, HungUp, end)
		}
	}
	cl := c.callRoot()
	cl.live--
	if cl.live <= 0 {
		e.finish(cl)
	}
}

// finish writes the activities of a call whose last channel is gone: the
// call's own, then those of each consultation in it that did not lead to a
// transfer, which is a call of its own.
func (e *Engine) finish(cl *call) {
	e.calls--
	var subs []*call
	for _, k := range cl.consults() {
		if !k.completed {
			subs = append(subs, e.consultCall(cl, k))
		}
	}
	if !cl.remnant() {
		e.writeActivities(cl)
	}
	for _, sub := range subs {
		e.writeActivities(sub)
	}
	for _, c := range cl.chans {
		if e.chans.get(c.id) == c {
			e.chans.del(c.id)
		}
		if c.bridge != "" {
			e.leave(c, e.at(c.endAt))
		}
	}
	for _, id := range cl.linked {
		delete(e.linked, id)
	}
	cl.chans, cl.legs, cl.linked = nil, nil, nil
	if cl.x != nil {
		cl.x.consults = nil
	}
}

// writeActivities emits the activity of every user leg of cl. The privacy
// rules see the call whole: a rule matching any leg classifies them all.
func (e *Engine) writeActivities(cl *call) {
	var acts []*Activity
	class := cl.privacyClass()
	for _, l := range cl.legs {
		a := e.activity(cl, l)
		if a == nil {
			continue
		}
		class = stricter(class, e.ruleClass(l, a))
		acts = append(acts, a)
	}
	for _, a := range acts {
		a.Privacy = stricter(a.Privacy, class)
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
}

// consultCall takes an unfinished consultation out of cl, which it joined
// when the transferer moved into it: the legs of users who were only in
// the consultation become a call of its own, named after its first
// channel, with the transferer's outbound leg to the consulted party. The
// transferer's part in cl is left as it was.
func (e *Engine) consultCall(cl *call, k *consult) *call {
	in := map[*channel]bool{}
	queue := []*channel{k.root}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		if in[x] {
			continue
		}
		in[x] = true
		if p := x.partner(); p != nil {
			queue = append(queue, p)
		}
		for _, y := range cl.chans {
			if y.dialer == x {
				queue = append(queue, y)
			}
		}
	}
	sub := &call{id: k.root.id, first: k.root.created, privacy: cl.privacy, timedOut: e.timedOut(k)}
	for _, c := range cl.chans {
		if in[c] {
			sub.chans = append(sub.chans, c)
		}
	}
	by := &userLeg{user: k.by.user, call: sub, outbound: true, chans: []*channel{k.root},
		started: k.root.created, answered: e.stamp(k.answered), consult: true}
	by.extra().leftAt = e.stamp(k.left)
	sub.legs = append(sub.legs, by)
	keep := cl.legs[:0]
	for _, l := range cl.legs {
		only := l.user != by.user
		for _, c := range l.chans {
			only = only && in[c]
		}
		if only {
			l.call = sub
			sub.legs = append(sub.legs, l)
		} else {
			keep = append(keep, l)
		}
	}
	cl.legs = keep
	return sub
}
