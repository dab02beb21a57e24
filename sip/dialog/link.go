package dialog

import (
	"slices"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// link finds what an INVITE the PBX sends was placed for. A B2BUA gives
// each side its own Call-ID, so:
//  1. the HEP correlation id, when it names another tracked dialog;
//  2. otherwise the open leg not (or no longer) bridged with anyone that
//     relates best (see score); ties go to the leg that came first, as a
//     PBX serves its callers in turn;
//  3. otherwise, a consultation: the INVITE presents a user whose leg is
//     bridged in a call (an attended transfer the PBX runs, e.g. AMI
//     Atxfer or a feature code), placed on behalf of that leg;
//  4. otherwise a call of its own (an originate to a phone, a callback).
//
// A leg already ringing the same target for a caller is never given a
// second one: fifty callers ringing one phone are fifty calls, however
// alike they look.
func (t *Tracker) link(p *parsed, l *leg, num, ruri string) (parent, onBehalf *leg) {
	if c := p.m.CorrelationID; c != "" && c != p.callID {
		for _, cand := range t.ix.byCallID[c] {
			if !cand.ended {
				if cand.out && cand.up && t.partner(cand) != nil {
					return nil, cand
				}
				return cand, nil
			}
		}
	}
	at := p.m.Time
	t.seq++
	gen := t.seq
	var best *leg
	bestScore := 0
	consider := func(c *leg) {
		if c.mark == gen {
			return
		}
		c.mark = gen
		s := t.score(c, l, num, ruri, at)
		if s == 0 || !t.eligible(c, l) {
			return
		}
		if s > bestScore || (s == bestScore && c.seq < best.seq) {
			best, bestScore = c, s
		}
	}
	for _, list := range [][]*leg{t.ix.byAwait[ruri], t.ix.byNumber[num], t.ix.byExten[ruri]} {
		for _, c := range list {
			consider(c)
		}
	}
	t.ix.trimRecent(at, t.cfg.LinkWindow)
	for _, c := range t.ix.recent {
		consider(c)
	}
	for _, c := range t.ix.origins {
		consider(c)
	}
	if best != nil {
		return best, nil
	}
	if t.isUser(num) {
		for _, c := range slices.Backward(t.ix.byEndpoint[num]) {
			if !c.ended && c.up && t.partner(c) != nil {
				return nil, c
			}
		}
	}
	return nil, nil
}

// eligible: c could have a leg dialled for it now: it is open, not
// hanging up, not bridged with anyone, not a leg still ringing itself, and
// not already ringing the target l rings.
func (t *Tracker) eligible(c, l *leg) bool {
	if c == l || c.ended || c.hangup || (c.out && !c.up) || t.partner(c) != nil {
		return false
	}
	for _, k := range c.children {
		if !k.ended && k.ch.Endpoint == l.ch.Endpoint && k.ch.CallerNumber == l.ch.CallerNumber {
			return false
		}
	}
	return true
}

// score says how well c explains an INVITE presenting num to ruri; 0 is
// not at all:
//   - a transferee waiting for the PBX to dial its blind-transfer target,
//     which this INVITE asks for (+4);
//   - it presents the caller this INVITE presents (+2);
//   - it dialled the number this INVITE asks for (+2);
//   - it is an incoming leg still unanswered (+1), which links on its own
//     within LinkWindow of its arrival;
//   - it is a user's phone the PBX rang on nobody's behalf and the user
//     answered (an originate, click-to-dial): the PBX now dials for it
//     what it showed the phone (+2), or anything within LinkWindow of
//     the answer (+1).
func (t *Tracker) score(c, l *leg, num, ruri string, at time.Time) int {
	s := 0
	if c.awaiting != "" && c.awaiting == ruri {
		s += 4
	}
	if num != "" && (num == c.ch.CallerNumber || (!c.out && num == c.ch.CallerName)) {
		s += 2
	}
	if !c.out && ruri != "" && ruri == c.ch.Exten {
		s += 2
	}
	window := false
	switch {
	case !c.out && !c.up:
		s++
		window = at.Sub(c.ch.Created) <= t.cfg.LinkWindow
	case originated(c) && t.isUser(c.ch.Endpoint):
		if ruri != "" && ruri == c.ch.ConnectedNumber {
			s += 2
		}
		if at.Sub(c.answerAt) <= t.cfg.LinkWindow {
			s++
			window = true
		}
	}
	if s < 2 && !(s == 1 && window) {
		return 0
	}
	return s
}

// originated: the PBX rang c on nobody's behalf, it answered and has not
// been in a call since.
func originated(c *leg) bool {
	return c.out && c.up && c.parent == nil && c.onBehalf == nil && !c.bridged
}

// meet connects a leg the PBX answered itself with the call it is handed:
// a phone that dialled a pickup code or a parked call's slot is answered
// by the PBX at once, and then connected to the ringing or parked caller,
// which SIP shows only as the PBX presenting that caller to the phone
// (P-Asserted-Identity in the answer or a re-INVITE) while the caller is
// answered and alone. l is either side: the phone (its connected line
// just changed, or it was just answered) or the caller (just answered
// with no one to bridge).
func (t *Tracker) meet(l *leg, at time.Time, out func(bridge.Event)) {
	if t.lonePhone(l) {
		for _, c := range t.ix.byNumber[l.ch.ConnectedNumber] {
			if t.handedCaller(c, l, at) {
				t.handOver(l, c, at, out)
				return
			}
		}
	}
	if l.up && !l.hangup && l.bridge == "" {
		for _, ph := range t.ix.alone {
			if ph.ch.ConnectedNumber == l.ch.CallerNumber && t.lonePhone(ph) && t.handedCaller(l, ph, at) {
				t.handOver(ph, l, at, out)
				return
			}
		}
	}
}

// lonePhone: l is a user's call in to the PBX that the PBX answered
// itself, dialling nobody for it, and is in no bridge.
func (t *Tracker) lonePhone(l *leg) bool {
	return !l.out && l.up && !l.ended && !l.hangup && l.bridge == "" && len(l.children) == 0 &&
		l.ch.ConnectedNumber != "" && t.isUser(l.ch.Endpoint)
}

// handedCaller: c, in another call, answered and in no bridge, presents
// the number the PBX shows phone ph, and is waiting to be handed to
// someone: parked or left alone by a blind transfer, or answered by the
// PBX just after the phone it rang was taken away from it (a pickup). A
// caller in an IVR, answered with nobody dialled, is not: many callers
// present the same number (or none, "anonymous").
func (t *Tracker) handedCaller(c, ph *leg, at time.Time) bool {
	if c == ph || c.call == ph.call || !c.up || c.ended || c.hangup || c.bridge != "" || c.ch.CallerNumber != ph.ch.ConnectedNumber {
		return false
	}
	if c.awaiting != "" {
		return true
	}
	w := t.cfg.LinkWindow
	return !c.lostChildAt.IsZero() && at.Sub(c.answerAt) <= w && c.answerAt.Sub(c.lostChildAt) <= w && !c.lostChildAt.After(c.answerAt)
}

func (t *Tracker) handOver(ph, caller *leg, at time.Time, out func(bridge.Event)) {
	t.join(mainBridge(caller), at, out, caller, ph)
}
