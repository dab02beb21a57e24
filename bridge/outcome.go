package bridge

import (
	"strings"
	"time"
)

func (e *Engine) activity(cl *call, l *userLeg) *Activity {
	// An inbound leg's caller was worked out while the Local channels and
	// bridges leading to it still existed; an outbound leg's remote may
	// only now be known (who answered).
	if !l.rewired && (l.outbound || (l.remote.number == "" && l.remote.user == nil)) {
		if p := e.remoteOf(l); p.number != "" || p.user != nil {
			l.remote = p
		}
	}
	if r, ok := e.dialledPrefix(l); ok && !l.rewired && strings.HasPrefix(l.remote.number, r.Prefix) {
		// A privacy code the PBX did not strip itself (or a source that
		// cannot see what it dialled out with): the number is what follows.
		n := strings.TrimPrefix(l.remote.number, r.Prefix)
		l.remote = party{number: n}
		if u := e.userFor(n); u != nil && u != l.user && !e.trunks[n] {
			l.remote = party{number: n, name: u.Name, user: u}
		}
	}
	a := &Activity{
		CallID:        cl.id,
		User:          l.user.Extension,
		UserName:      l.user.Name,
		LocalNumber:   l.user.Extension,
		Direction:     l.direction(),
		Internal:      l.remote.user != nil,
		RemoteNumber:  l.remote.number,
		RemoteName:    l.remote.name,
		StartedAt:     e.startedAt(l),
		AnsweredAt:    e.at(l.answered),
		TransferredBy: l.transferredBy(),
		ForwardedBy:   l.forwardedBy(),
		Privacy:       cl.privacyClass(),
		Source:        e.cfg.Source,
	}
	if a.Privacy == "" {
		a.Privacy = PrivacyWork
	}
	if !l.outbound && !a.Internal {
		a.DDI = l.remote.ddi
	}
	a.ID = ActivityID(e.cfg.PBX, a.CallID, a.User)
	a.EndedAt = e.end(l)
	// Sources do not always report in order (a ring seen after the
	// hang-up): keep started <= answered <= ended.
	if a.StartedAt.IsZero() || (!a.AnsweredAt.IsZero() && a.AnsweredAt.Before(a.StartedAt)) {
		a.StartedAt = a.AnsweredAt
	}
	if a.StartedAt.IsZero() || a.EndedAt.Before(a.StartedAt) {
		if a.StartedAt.IsZero() {
			a.StartedAt = a.EndedAt
		} else {
			a.EndedAt = a.StartedAt
		}
	}
	switch {
	case !l.answered.isZero():
		a.State, a.Reason = Connected, ReasonAnswered
		if !l.transferAt().isZero() {
			a.Reason = ReasonTransferred
		}
		a.RingSeconds = seconds(a.AnsweredAt.Sub(a.StartedAt))
		a.TalkSeconds = seconds(a.EndedAt.Sub(a.AnsweredAt))
	case !l.outbound:
		a.State, a.Reason = Missed, timerReason(cl, e.missedReason(cl, l))
		if a.Reason == ReasonForwarded && !e.cfg.ShowForwarded {
			return nil // the user's phone sent the call on
		}
		a.RingSeconds = seconds(a.EndedAt.Sub(a.StartedAt))
	default:
		if neverPickedUp(l) || !e.placedACall(l) {
			return nil
		}
		a.State, a.Reason = Unaccepted, timerReason(cl, e.unacceptedReason(l))
		a.RingSeconds = seconds(a.EndedAt.Sub(a.StartedAt))
	}
	return a
}

// timerReason corrects a cancel in a consultation the PBX's no-answer
// timer ended: nobody called it off, the consulted phone rang unanswered.
func timerReason(cl *call, r Reason) Reason {
	if cl.timedOut && r == ReasonCancel {
		return ReasonNoAnswer
	}
	return r
}

// placedACall filters out outbound legs that were not calls to anybody:
// feature codes, voicemail, an IVR reached by dialling a star code.
func (e *Engine) placedACall(l *userLeg) bool {
	for _, c := range e.placers(l) {
		if c.outStatus != statusNone || c.varStatus != statusNone || c.is(fConference) {
			return true
		}
	}
	n := l.remote.number
	if n == "" || n == "s" || strings.HasPrefix(n, "*") || strings.HasPrefix(n, "#") {
		return false
	}
	return true
}

// neverPickedUp is an originate the user did not answer: the PBX rang the
// user's own phone to place a call for them and nobody was called.
func neverPickedUp(l *userLeg) bool {
	for _, c := range l.chans {
		if !c.is(fOriginated) || c.is(fWasUp) || c.peerStatus == statusAnswer {
			return false
		}
	}
	return true
}

// placers are the channels that dialled for an outbound leg: the user's
// own, and the Local half an originate dials through.
func (e *Engine) placers(l *userLeg) []*channel {
	out := l.chans
	for _, c := range l.chans {
		if v := c.via(); v != nil {
			out = append(out[:len(out):len(out)], v)
		}
	}
	return out
}

// farEnd lists the channels the PBX dialled for an outbound leg, looking
// through Local pairs.
func (e *Engine) farEnd(l *userLeg) []*channel {
	from := map[*channel]bool{}
	for _, c := range e.placers(l) {
		from[c] = true
		if p := c.partner(); p != nil {
			from[p] = true
		}
	}
	var far []*channel
	chans := l.call.root().chans
	for grew := true; grew; {
		grew = false
		for _, c := range chans {
			if c.dialer == nil || !from[c.dialer] || from[c] {
				continue
			}
			from[c] = true
			grew = true
			if c.localKey() != "" {
				if p := c.partner(); p != nil {
					from[p] = true
				}
				continue
			}
			far = append(far, c)
		}
	}
	return far
}

// missedReason explains an inbound leg that never connected, from where
// the call failed: the caller giving up first is a cancel whatever causes
// the channels end with; otherwise the phone's own answer (its hang-up
// cause), then the status of the Dial that rang it.
func (e *Engine) missedReason(cl *call, l *userLeg) Reason {
	forwarded := true
	for _, c := range l.chans {
		if c.forwardTo() == "" {
			forwarded = false
		}
	}
	if forwarded {
		return ReasonForwarded
	}
	for _, c := range l.chans {
		if c.cause == 26 { // "answered elsewhere", Asterisk's own verdict
			return ReasonAnsweredElsewhere
		}
	}
	// Another user took the call after this one was offered it: a ring
	// group or queue race this user lost. A user who answered before this
	// one was offered it (and then transferred) does not count.
	for _, o := range cl.legs {
		if o != l && !o.outbound && !o.answered.isZero() && !e.at(o.answered).Before(e.at(l.started)) {
			return ReasonAnsweredElsewhere
		}
	}
	var last *channel
	for _, c := range l.chans {
		if c.forwardTo() == "" && (last == nil || e.at(c.endAt).After(e.at(last.endAt))) {
			last = c
		}
	}
	st := e.offerStatus(last)
	if st == statusCancel {
		return ReasonCancel
	}
	if r, ok := farEndCause(last.cause); ok {
		return r
	}
	if r, ok := statusReason(st); ok {
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
func (e *Engine) offerStatus(c *channel) dialStatus {
	st := c.peerStatus
	for i := 0; c != nil && i < 32; i++ {
		d := c.dialer
		if d == nil || d.localKey() == "" {
			break
		}
		outer := d.partner()
		if outer == nil {
			break
		}
		if outer.peerStatus != statusNone {
			st = outer.peerStatus
		}
		c = outer
	}
	return st
}

// unacceptedReason explains an outbound leg the far end never answered,
// from where the call failed. The user hanging up first is a cancel. Else
// the far end's own answer decides (its hang-up cause: a 603 is cause 21,
// rejected), because the user's leg often carries only the cause a
// dial-failure routine chose (Hangup(19) or (34) whatever happened), and
// Dial's status is coarse (a 603 gives NOANSWER); then Dial's status; then
// the user's own cause.
func (e *Engine) unacceptedReason(l *userLeg) Reason {
	for _, c := range l.chans {
		if c.is(fConference) {
			return ReasonNoAnswer // alone in the conference: nobody came
		}
	}
	var st dialStatus
	var own cause16
	for _, c := range e.placers(l) {
		if c.outStatus != statusNone {
			st = c.outStatus
		} else if st == statusNone {
			st = c.varStatus
		}
		if c.cause != 0 && c.localKey() == "" {
			own = c.cause
		}
	}
	far := e.farEnd(l)
	var last *channel
	for _, c := range far {
		if c.peerStatus == statusCancel {
			st = statusCancel // the Dial was called off: its caller hung up
		}
		if last == nil || e.at(c.endAt).After(e.at(last.endAt)) {
			last = c
		}
	}
	if st == statusCancel {
		return ReasonCancel
	}
	if last != nil {
		if r, ok := farEndCause(last.cause); ok {
			return r
		}
	}
	if r, ok := statusReason(st); ok {
		return r
	}
	if last != nil {
		if r, ok := statusReason(last.peerStatus); ok {
			return r
		}
	}
	if r, ok := causeReason(own); ok && r != ReasonCancel {
		return r
	}
	if st == statusNone && len(far) == 0 {
		return ReasonFailed
	}
	return ReasonCancel
}

// farEndCause maps the hang-up causes that say how the far end itself
// answered (chan_pjsip's ast_sip_hangup_sip2cause): 486 is 17, 603 (and
// 401, 403, 407) 21, 404 and 604 cause 1, 484 cause 28, 408 cause 18, 480
// cause 19.
func farEndCause(cause cause16) (Reason, bool) {
	switch cause {
	case 17:
		return ReasonBusy, true
	case 21:
		return ReasonRejected, true
	case 1, 3, 28:
		return ReasonFailed, true
	case 18, 19:
		return ReasonNoAnswer, true
	}
	return "", false
}

func statusReason(st dialStatus) (Reason, bool) {
	switch st {
	case statusBusy:
		return ReasonBusy, true
	case statusNoAnswer:
		return ReasonNoAnswer, true
	case statusCancel:
		return ReasonCancel, true
	case statusFailed:
		return ReasonFailed, true
	}
	return "", false
}

// causeReason maps Q.850 hang-up causes.
func causeReason(cause cause16) (Reason, bool) {
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
	tr := Transition{
		Time:         at,
		CallID:       l.call.root().id,
		User:         l.user.Extension,
		State:        s,
		Direction:    l.direction(),
		RemoteNumber: p.number,
		RemoteName:   p.name,
		Internal:     p.user != nil,
	}
	if !l.outbound && p.user == nil {
		tr.DDI = p.ddi
	}
	e.out = append(e.out, tr)
}
