package bridge

import "strings"

// partyOf describes a real (non-Local) channel as a remote party.
func (e *Engine) partyOf(c *channel) party {
	if c.user != nil {
		return party{number: c.user.Extension, name: userName(c), user: c.user}
	}
	if c.incoming {
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
		if c.localKey == "" {
			return e.partyOf(c)
		}
		other := c.partner
		if other == nil {
			other = c
		}
		if other.dialer != nil {
			c = other.dialer
			continue
		}
		next := (*channel)(nil)
		for _, m := range e.bridges[other.bridge] {
			if m != other && m != skip && !m.gone {
				next = m
				break
			}
		}
		if next == nil && other != c {
			for _, m := range e.bridges[c.bridge] {
				if m != c && m != skip && !m.gone {
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
	if l.dir == Inbound {
		if uc.dialer != nil {
			if p := e.partyBehind(uc.dialer, uc); p.number != "" || p.user != nil {
				return p
			}
		}
		// No dial seen (adopted after a reconnect, picked up): whoever
		// shares its bridge.
		for _, m := range e.bridges[uc.bridge] {
			if m != uc {
				if p := e.partyBehind(m, uc); p.number != "" || p.user != nil {
					return p
				}
			}
		}
		return party{number: uc.connNum, name: nameIf(uc.connName, uc.connNum)}
	}
	// Outbound: the user who answered, else what the user dialled.
	for _, c := range l.call.root().chans {
		if c.user != nil && c.user != l.user && c.uleg != nil && !c.uleg.answered.IsZero() && c.uleg.dir == Inbound {
			return party{number: c.user.Extension, name: userName(c), user: c.user}
		}
	}
	// What the user dialled, unless that was a code around the number
	// (a private-call prefix such as *99<number>): then the number the
	// PBX dialled out with.
	n := uc.exten
	if n == "" || n == "s" || strings.ContainsAny(n, "*#") {
		for _, c := range l.call.root().chans {
			if c.dialer == uc {
				if d := dialNumber(c.dialString); d != "" && (n == "" || n == "s" || strings.HasSuffix(n, d)) {
					n = d
				}
				break
			}
		}
	}
	p := party{number: n}
	if u := e.userFor(n); u != nil && u != l.user && !e.trunks[n] {
		p.user = u
		p.name = u.Name
	}
	return p
}

func nameIf(name, num string) string {
	if name == num {
		return ""
	}
	return name
}
