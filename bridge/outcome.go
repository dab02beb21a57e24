package bridge

import (
	"strings"
	"time"
)

func (e *Engine) activity(cl *call, l *userLeg) *Activity {
	// An inbound leg's caller was worked out while the Local channels and
	// bridges leading to it still existed; an outbound leg's remote may
	// only now be known (who answered).
	if !l.rewired && (l.dir == Outbound || (l.remote.number == "" && l.remote.user == nil)) {
		if p := e.remoteOf(l); p.number != "" || p.user != nil {
			l.remote = p
		}
	}
	a := &Activity{
		CallID:        cl.id,
		User:          l.user.Extension,
		UserName:      l.user.Name,
		LocalNumber:   l.user.Extension,
		Direction:     l.dir,
		Internal:      l.remote.user != nil,
		RemoteNumber:  l.remote.number,
		RemoteName:    l.remote.name,
		StartedAt:     l.startedAt(),
		AnsweredAt:    l.answered,
		TransferredBy: l.transferredBy,
		Privacy:       cl.privacy,
		Source:        e.cfg.Source,
	}
	if a.Privacy == "" {
		a.Privacy = PrivacyWork
	}
	if l.dir == Inbound && !a.Internal {
		a.DDI = l.remote.ddi
	}
	a.ID = ActivityID(e.cfg.PBX, a.CallID, a.User)
	a.EndedAt = l.end()
	// Sources do not always report in order (a ring seen after the
	// hang-up): keep started <= answered <= ended.
	if a.StartedAt.IsZero() || (!l.answered.IsZero() && l.answered.Before(a.StartedAt)) {
		a.StartedAt = l.answered
	}
	if a.StartedAt.IsZero() || a.EndedAt.Before(a.StartedAt) {
		if a.StartedAt.IsZero() {
			a.StartedAt = a.EndedAt
		} else {
			a.EndedAt = a.StartedAt
		}
	}
	switch {
	case !l.answered.IsZero():
		a.State, a.Reason = Connected, ReasonAnswered
		if !l.transferAt.IsZero() {
			a.Reason = ReasonTransferred
		}
		a.RingSeconds = seconds(l.answered.Sub(a.StartedAt))
		a.TalkSeconds = seconds(a.EndedAt.Sub(l.answered))
	case l.dir == Inbound:
		a.State, a.Reason = Missed, e.missedReason(cl, l)
		a.RingSeconds = seconds(a.EndedAt.Sub(a.StartedAt))
	default:
		if !e.placedACall(l) {
			return nil
		}
		a.State, a.Reason = Unaccepted, e.unacceptedReason(l)
		a.RingSeconds = seconds(a.EndedAt.Sub(a.StartedAt))
	}
	return a
}

// placedACall filters out outbound legs that were not calls to anybody:
// feature codes, voicemail, an IVR reached by dialling a star code.
func (e *Engine) placedACall(l *userLeg) bool {
	for _, c := range l.chans {
		if c.outStatus != "" || c.varStatus != "" {
			return true
		}
	}
	n := l.remote.number
	if n == "" || n == "s" || strings.HasPrefix(n, "*") || strings.HasPrefix(n, "#") {
		return false
	}
	return true
}

// missedReason explains an inbound leg that never connected.
func (e *Engine) missedReason(cl *call, l *userLeg) Reason {
	for _, c := range l.chans {
		if c.cause == 26 { // "answered elsewhere", Asterisk's own verdict
			return ReasonAnsweredElsewhere
		}
	}
	// Another user took the call after this one was offered it: a ring
	// group or queue race this user lost. A user who answered before this
	// one was offered it (and then transferred) does not count.
	for _, o := range cl.legs {
		if o != l && o.dir == Inbound && !o.answered.IsZero() && !o.answered.Before(l.started) {
			return ReasonAnsweredElsewhere
		}
	}
	var last *channel
	for _, c := range l.chans {
		if last == nil || c.endAt.After(last.endAt) {
			last = c
		}
	}
	if last.cause == 21 {
		return ReasonRejected
	}
	if r, ok := statusReason(e.offerStatus(last)); ok {
		return r
	}
	if r, ok := causeReason(last.cause); ok {
		return r
	}
	return ReasonCancel
}

// offerStatus is the dial status of an offer to c, taken from the
// outermost Dial in a chain of Local channels: a queue's NOANSWER for its
// member says more than the CANCEL of the member's inner Dial.
func (e *Engine) offerStatus(c *channel) string {
	st := c.peerStatus
	for i := 0; c != nil && i < 32; i++ {
		d := c.dialer
		if d == nil || d.localKey == "" {
			break
		}
		outer := d.partner
		if outer == nil {
			break
		}
		if outer.peerStatus != "" {
			st = outer.peerStatus
		}
		c = outer
	}
	return st
}

func (e *Engine) unacceptedReason(l *userLeg) Reason {
	var st string
	var cause int
	for _, c := range l.chans {
		if c.outStatus != "" {
			st = c.outStatus
		} else if st == "" {
			st = c.varStatus
		}
		if c.cause != 0 {
			cause = c.cause
		}
	}
	if r, ok := statusReason(st); ok {
		return r
	}
	if r, ok := causeReason(cause); ok && r != ReasonCancel {
		return r
	}
	if st == "" && !e.dialledAnyone(l) {
		return ReasonFailed
	}
	return ReasonCancel
}

func (e *Engine) dialledAnyone(l *userLeg) bool {
	for _, c := range l.call.root().chans {
		if c.dialer != nil && c.dialer.uleg == l {
			return true
		}
	}
	return false
}

func statusReason(st string) (Reason, bool) {
	switch st {
	case "BUSY":
		return ReasonBusy, true
	case "NOANSWER":
		return ReasonNoAnswer, true
	case "CANCEL":
		return ReasonCancel, true
	case "CONGESTION", "CHANUNAVAIL", "DONTCALL", "TORTURE", "INVALIDARGS":
		return ReasonFailed, true
	}
	return "", false
}

// causeReason maps Q.850 hang-up causes.
func causeReason(cause int) (Reason, bool) {
	switch cause {
	case 17:
		return ReasonBusy, true
	case 18, 19:
		return ReasonNoAnswer, true
	case 21:
		return ReasonRejected, true
	case 26:
		return ReasonAnsweredElsewhere, true
	case 0, 16, 31, 127:
		return "", false
	}
	return ReasonFailed, true
}

func (e *Engine) emitLive(l *userLeg, s LiveState, at time.Time) {
	p := l.remote
	e.out = append(e.out, Transition{
		Time:         at,
		CallID:       l.call.root().id,
		User:         l.user.Extension,
		State:        s,
		Direction:    l.dir,
		RemoteNumber: p.number,
		RemoteName:   p.name,
	})
}
