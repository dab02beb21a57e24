package dialog

import (
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
//     Atxfer or a feature code), placed on behalf of that leg (see
//     consult.go when the user has several);
//  4. otherwise a call of its own (an originate to a phone, a callback).
//
// Among equally good candidates, one already ringing the same target (or
// that rang it a moment ago) comes last (see conflict).
func (t *Tracker) link(p *parsed, l *leg, num, ruri string) (parent *leg, consult []*leg) {
	if c := p.m.CorrelationID; c != "" && c != p.callID {
		for _, cand := range t.ix.byCallID[c] {
			if !cand.ended {
				if cand.out && cand.up && t.partner(cand) != nil {
					return nil, []*leg{cand}
				}
				return cand, nil
			}
		}
	}
	at := p.m.Time
	t.seq++
	gen := t.seq
	var best *leg
	bestScore, bestConflict := 0, 0
	consider := func(c *leg) {
		if c.mark == gen {
			return
		}
		c.mark = gen
		s := t.score(c, l, num, ruri, at)
		if s == 0 || !t.eligible(c, l) {
			return
		}
		k := conflict(c, l, at)
		if s == 1 && k >= 5 {
			return // the window alone does not tie a dial to a caller already ringing someone
		}
		if s > bestScore || (s == bestScore && (k < bestConflict || (k == bestConflict && c.seq < best.seq))) {
			best, bestScore, bestConflict = c, s, k
		}
	}
	for _, list := range [][]*leg{t.ix.byAwait[ruri], t.ix.byNumber[num], t.ix.byExten[ruri]} {
		for _, c := range list {
			consider(c)
		}
	}
	for _, c := range t.ix.origins {
		consider(c)
	}
	t.ix.trimRecent(at, t.cfg.LinkWindow)
	if bestScore < 2 {
		// Only the window is left to link by: any recent caller (those
		// that present or dialled something this INVITE relates to were
		// scored above, from the indexes).
		for _, c := range t.ix.recent {
			consider(c)
		}
	}
	if t.isUser(num) && (best == nil || bestScore == 1) {
		// A user in a call presented by the PBX, with nothing but the
		// window for a caller: the PBX is consulting for that user.
		for _, c := range t.ix.byEndpoint[num] {
			if !c.ended && c.up && c.consult == nil && c.pending == nil && t.partner(c) != nil {
				consult = append(consult, c)
			}
		}
		if len(consult) > 0 {
			return nil, consult
		}
	}
	return best, nil
}

// eligible: c could have a leg dialled for it now: it is open, not
// hanging up, not bridged with anyone, not a leg still ringing itself and
// not a transferer consulting (alone while the target rings).
func (t *Tracker) eligible(c, l *leg) bool {
	return c != l && !c.ended && !c.hangup && !(c.out && !c.up) && c.consult == nil && c.pending == nil && t.partner(c) == nil
}

// conflict ranks equally good candidates by what the PBX is likely to be
// doing for each when it sends a new INVITE, best first. Identical callers
// (fifty calls from one number to one phone) are told apart only by this,
// so it follows how a B2BUA works through a call:
//
//	0 it is dialling right now: its other legs began within forkWindow
//	  (Dial(A&B) sends all its INVITEs at once);
//	1 the PBX answered it and has dialled nothing for it yet (an IVR
//	  that now dials);
//	2 a leg the PBX rang for it was given up within retryWindow (the
//	  next step after no answer: a queue's next member, follow-me);
//	3 it has just arrived and nothing was dialled for it yet;
//	4 a leg for it failed at the far end (busy, rejected): the caller is
//	  about to be told, and the INVITE is more likely the next caller's;
//	  or its last leg ended longer ago than retryWindow;
//	5 a leg for it has been ringing for a while;
//	6 a leg for it rings the very target this INVITE rings, or rang it
//	  within retryWindow: fifty callers ringing one phone are fifty calls.
func conflict(c, l *leg, at time.Time) int {
	live, old, same := false, false, false
	var lastEnd time.Time
	var lastEnded *leg
	for _, ch := range c.children {
		sameTarget := ch.ch.Endpoint == l.ch.Endpoint && ch.ch.CallerNumber == l.ch.CallerNumber
		if !ch.ended {
			live = true
			old = old || at.Sub(ch.ch.Created) > forkWindow
			same = same || sameTarget
			continue
		}
		if sameTarget && at.Sub(ch.endedAt) < retryWindow {
			same = true
		}
		if ch.endedAt.After(lastEnd) {
			lastEnd, lastEnded = ch.endedAt, ch
		}
	}
	switch {
	case same:
		return 6
	case live && old:
		return 5
	case live:
		return 0
	case lastEnded == nil && c.up:
		return 1
	case lastEnded == nil:
		return 3
	case c.farCause == 0 && at.Sub(lastEnd) < retryWindow:
		return 2
	}
	return 4
}

const (
	// forkWindow: the INVITEs of one Dial to several targets go out
	// within this of each other.
	forkWindow = 10 * time.Millisecond
	// retryWindow: what the PBX does after a leg is given up follows
	// within this (a queue's retry, a follow-me step); a caller whose leg
	// to a target ended this recently is not taken for one ringing it
	// again while another caller fits.
	retryWindow = 2 * time.Second
)

// score says how well c explains an INVITE presenting num to ruri; 0 is
// not at all:
//   - a transferee waiting for the PBX to dial its blind-transfer target,
//     or a caller whose dialled phone redirected the call (3xx), which
//     this INVITE asks for (+4);
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
	if c.forwardTo != "" && c.forwardTo == ruri {
		s += 4 // a leg dialled for it redirected the call here
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
	case originated(c) && t.isUser(c.ch.Endpoint) && c.ch.Endpoint != l.ch.Endpoint && num != c.ch.ConnectedNumber:
		// (Not another originate: that presents what the first one was
		// shown, where the dial-out presents the user.)
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
