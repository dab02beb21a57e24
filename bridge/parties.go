package bridge

import "strings"

// partyOf describes a real (non-Local) channel as a remote party.
func (e *Engine) partyOf(c *channel) party {
	if c.user != nil {
		return party{number: c.user.Extension, name: userName(c), user: c.user}
	}
	if c.is(fIncoming) {
		p := party{number: c.callerNum, name: c.callerName, ddi: c.exten}
		if p.name == p.number {
			p.name = ""
		}
		return p
	}
	// A channel the PBX dialled out on: the number it was dialled with.
	n := dialNumber(c.dialString)
	if n == "" {
		n = c.callerNum
	}
	p := party{number: n}
	if c.callerName != "" && c.callerName != n {
		p.name = c.callerName
	}
	return p
}

func userName(c *channel) string {
	if c.user.Name != "" {
		return c.user.Name
	}
	if c.callerName != "" && c.callerName != c.callerNum {
		return c.callerName
	}
	return ""
}

// dialNumber takes the number out of a dial string: "0401234567@pstn",
// "PJSIP/101", "pstn/sip:+358401234567@host;transport=udp".
func dialNumber(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	for _, p := range []string{"sip:", "sips:", "tel:"} {
		s = strings.TrimPrefix(s, p)
	}
	if i := strings.IndexAny(s, "@;,&"); i >= 0 {
		s = s[:i]
	}
	return s
}

// partyBehind finds the real party at the far end of c, looking through
// Local channel pairs: up the chain of dialers, or else across the bridge
// the outer Local half sits in. skip is a channel not to report (the leg
// asking).
func (e *Engine) partyBehind(c *channel, skip *channel) party {
	for i := 0; c != nil && i < 32; i++ {
		if c.localKey() == "" {
			return e.partyOf(c)
		}
		other := c.partner()
		if other == nil {
			other = c
		}
		if other.dialer != nil {
			c = other.dialer
			continue
		}
		next := (*channel)(nil)
		for _, m := range e.bridges[other.bridge] {
			if m != other && m != skip && !m.is(fGone) && !m.is(fPseudo) {
				next = m
				break
			}
		}
		if next == nil && other != c {
			for _, m := range e.bridges[c.bridge] {
				if m != c && m != skip && !m.is(fGone) && !m.is(fPseudo) {
					next = m
					break
				}
			}
		}
		c = next
	}
	return party{}
}

// remoteOf works out who is on the other end of a user's leg.
func (e *Engine) remoteOf(l *userLeg) party {
	uc := l.chans[0]
	if !l.outbound {
		if uc.dialer != nil {
			if p := e.partyBehind(uc.dialer, uc); p.number != "" || p.user != nil {
				return p
			}
		}
		// No dial seen (adopted after a reconnect, picked up): whoever
		// shares its bridge.
		for _, m := range e.bridges[uc.bridge] {
			if m != uc && !m.is(fPseudo) {
				if p := e.partyBehind(m, uc); p.number != "" || p.user != nil {
					return p
				}
			}
		}
		// Else what the phone was shown (its connected line).
		p := party{number: uc.connNum, name: nameIf(uc.connName, uc.connNum)}
		if u := e.userFor(p.number); u != nil && u != l.user && !e.trunks[p.number] {
			p.user, p.name = u, u.Name
		}
		return p
	}
	// Outbound: the number the user dialled. A conference room is never a
	// user, whatever its number looks like.
	n := e.dialled(l)
	for _, c := range l.chans {
		if c.is(fConference) {
			return party{number: n}
		}
	}
	// The user who answered, else what the user dialled.
	for _, c := range l.call.root().chans {
		if c.user != nil && c.user != l.user && c.uleg != nil && !c.uleg.answered.isZero() && !c.uleg.outbound {
			return party{number: c.user.Extension, name: userName(c), user: c.user}
		}
	}
	p := party{number: n}
	if u := e.userFor(n); u != nil && u != l.user && !e.trunks[n] {
		p.user = u
		p.name = u.Name
	}
	return p
}

// dialled is the number an outbound leg called: what the user dialled,
// unless that was a code around the number (a private-call prefix such as
// *99<number>), or the user was rung first by an originate: then the
// number the PBX dialled out with for them.
func (e *Engine) dialled(l *userLeg) string {
	uc := l.chans[0]
	placer := uc
	if v := uc.via(); v != nil {
		placer = v // the originated Local half that dials for the user
	}
	n := placer.exten
	if uc.via() != nil {
		n = "" // the Local pair's own extension is the user's
	}
	var out string
	for _, c := range l.call.root().chans {
		if c.dialer == placer {
			out = dialNumber(c.dialString)
			break
		}
	}
	switch {
	case uc.is(fOriginated) && out != "":
		return out
	case n == "" || n == "s" || strings.ContainsAny(n, "*#"):
		if out != "" && (n == "" || n == "s" || strings.HasSuffix(n, out)) {
			return out
		}
		if uc.is(fOriginated) && (n == "" || n == "s") {
			// Nothing dialled yet: the originate's caller id is what the
			// user's phone shows, usually the number about to be called.
			return uc.connNum
		}
	}
	return n
}

func nameIf(name, num string) string {
	if name == num {
		return ""
	}
	return name
}
