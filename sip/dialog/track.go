package dialog

import (
	"time"

	"github.com/callbridge/callbridge/bridge"
)

func (t *Tracker) request(l *leg, p *parsed, out func(bridge.Event)) {
	method := p.reqMethod
	if l.ended {
		return
	}
	at := p.m.Time
	switch method {
	case "INVITE", "UPDATE":
		if p.toTag == "" && method == "INVITE" {
			// The same INVITE again with a new CSeq: the retry after an
			// authentication challenge.
			l.cseq = p.cseq
			return
		}
		// A re-INVITE or UPDATE from the PBX carries the connected line
		// (the party now on the other side) in P-Asserted-Identity.
		if t.isPBX(p.m.Src) && p.hasPAI {
			t.connectedLine(l, p, at, out)
		}
		t.settleConsult(l, at, out)
	case "CANCEL":
		if l.out {
			t.cancelled(l, reasonCause(p.reasons), at, out)
			return
		}
		// The caller gave up: its channel goes when the PBX has cleaned
		// up what it dialled (the 487 and the CANCELs that follow).
		t.ensure(l, out)
		t.dropSilent(l, "CANCEL", 16, at, out)
		t.requestHangup(l, at, 16, out)
	case "BYE":
		cause := reasonCause(p.reasons)
		if cause == 0 {
			cause = 16
		}
		if !t.isPBX(p.m.Src) {
			t.inferAttended(l, at, out)
		}
		t.end(l, at, cause, out)
	case "REFER":
		if p.hasReferTo && !t.isPBX(p.m.Src) {
			l.referTo = p.referTo
		}
	}
}

// connectedLine applies the P-Asserted-Identity the PBX presents to a
// leg: who the leg is now connected to.
func (t *Tracker) connectedLine(l *leg, p *parsed, at time.Time, out func(bridge.Event)) {
	num, name := identity(p)
	if num == l.ch.ConnectedNumber && name == l.ch.ConnectedName {
		return
	}
	l.ch.ConnectedNumber, l.ch.ConnectedName = num, name
	t.update(l, at, out)
	t.meet(l, at, out)
}

// cancelled: the PBX gave up on a leg it was ringing. The reason is where
// the call went: with the caller gone first (its CANCEL) it is the
// caller's cancel; with another leg for the same caller answered (or the
// Reason header's "call completed elsewhere") it was answered elsewhere;
// otherwise nobody hung up and the PBX stopped ringing by itself, the
// dial timeout: no answer. Asterisk's own Reason causes say little here
// (0 on a timeout, 16 on a pickup, 127 after the caller's cancel).
func (t *Tracker) cancelled(l *leg, cause int, at time.Time, out func(bridge.Event)) {
	status := "CANCEL"
	p := l.parent
	switch {
	case cause == 26:
	case l.onBehalf != nil:
		// A consultation given up: the transferer called it off or the
		// PBX's no-answer timer ran out, which SIP cannot tell apart
		// (the abort code travels in the media); the engine takes it as
		// the timer unless the source saw the keys.
	case p != nil && (p.hangup || p.ended):
	case p != nil && answeredSibling(l):
		cause = 26
	default:
		status, cause = "NOANSWER", 19
	}
	if cause == 0 {
		cause = 16
	}
	t.dial(l, status, at, out)
	t.end(l, at, cause, out)
}

// dropSilent ends the legs dialled for l that never answered anything,
// not even 100 Trying (a phone that is off, an address nobody listens
// on): the PBX cannot CANCEL them, it only stops retransmitting, so they
// end with the caller.
func (t *Tracker) dropSilent(l *leg, status string, cause int, at time.Time, out func(bridge.Event)) {
	for _, c := range l.children {
		if !c.ended && !c.responded {
			t.dial(c, status, at, out)
			t.end(c, at, cause, out)
		}
	}
}

func answeredSibling(l *leg) bool {
	for _, c := range l.parent.children {
		if c != l && c.up && !c.ended {
			return true
		}
	}
	return false
}

func (t *Tracker) response(l *leg, p *parsed, out func(bridge.Event)) {
	code := p.status
	at := p.m.Time
	switch p.method {
	case "REFER":
		if code >= 200 && code < 300 && l.referTo != "" && !l.ended {
			t.refer(l, l.referTo, at, out)
		}
		l.referTo = ""
		return
	case "INVITE":
	default:
		return
	}
	if p.cseq != l.cseq || l.ended {
		return // a re-INVITE's response, or late after the end
	}
	if l.pending != nil && code >= 200 {
		t.decideConsult(l.pending, nil, at, out)
	}
	fromDevice := p.m.Src == l.device || !t.isPBX(p.m.Src)
	if l.out && fromDevice {
		t.outgoingResponse(l, code, p, at, out)
		return
	}
	if !l.out && !fromDevice {
		t.incomingResponse(l, code, p, at, out)
	}
}

// outgoingResponse handles what a device answers to an INVITE the PBX
// sent it.
func (t *Tracker) outgoingResponse(l *leg, code int, p *parsed, at time.Time, out func(bridge.Event)) {
	l.responded = true
	switch {
	case code == 100:
	case code < 200:
		if !l.ringing && !l.up {
			// Only the first early dialog counts: a forking proxy may
			// report several, for one ringing leg.
			l.ringing = true
			l.ch.State = bridge.StateRinging
			t.update(l, at, out)
			t.dial(l, "RINGING", at, out)
		}
	case code < 300:
		if l.up {
			return // 2xx from a second fork; the PBX will BYE it
		}
		l.up, l.answerAt = true, at
		l.ch.State = bridge.StateUp
		t.update(l, at, out)
		t.dial(l, "ANSWER", at, out)
		switch {
		case l.onBehalf != nil && !l.onBehalf.ended:
			t.localUp(l, at, out)
			t.join(consultBridge(l.onBehalf), at, out, l)
		case l.parent != nil && l.parent.up && !l.parent.ended && t.partner(l.parent) == nil:
			t.join(mainBridge(l.parent), at, out, l, l.parent)
		case l.parent == nil && t.isUser(l.ch.Endpoint):
			t.ix.setOrigin(l)
		}
	case retried(code):
	case code < 400 && redirect(l, p):
		// The PBX follows the redirect and dials the new target; this
		// leg is done, as app_dial reports it: CANCEL with the forward's
		// target, cause 23 (redirected to a new destination).
		t.dialForward(l, "CANCEL", l.parent.forwardTo, at, out)
		t.end(l, at, 23, out)
	default:
		status, cause := failure(code)
		if c := reasonCause(p.reasons); c != 0 {
			cause = c
		}
		if l.parent != nil {
			l.parent.farStatus, l.parent.farCause = status, cause
		}
		if status != "" {
			t.dial(l, status, at, out)
		}
		t.end(l, at, cause, out)
	}
}

// redirect reads a 3xx redirect to a user or number (its Contact's user
// part) and records it on the leg's caller (forwardTo), so the INVITE the
// PBX sends next for it links to that caller. false when the redirect
// names nobody the PBX could dial, or the leg was dialled for nobody.
func redirect(l *leg, p *parsed) bool {
	if p.contactUser == "" || l.parent == nil {
		return false
	}
	l.parent.forwardTo, l.parent.forwardBy = p.contactUser, l.ch.Endpoint
	return true
}

// incomingResponse handles what the PBX answers to an INVITE a device
// sent it.
func (t *Tracker) incomingResponse(l *leg, code int, p *parsed, at time.Time, out func(bridge.Event)) {
	if retried(code) {
		return // the device retries with credentials; nothing happened yet
	}
	t.ensure(l, out)
	switch {
	case code < 200:
	case code < 300:
		if l.up {
			return
		}
		l.up, l.answerAt = true, at
		l.ch.State = bridge.StateUp
		if p.hasPAI {
			num, name := identityOf(p, "", "")
			if num != "" {
				l.ch.ConnectedNumber, l.ch.ConnectedName = num, name
			}
		}
		t.update(l, at, out)
		if r := l.replaces; r != nil && !r.ended {
			t.takeOver(l, r, at, out)
			return
		}
		// Bridge with the leg dialled for it that answered last.
		var child *leg
		for _, c := range l.children {
			if c.up && !c.ended && c.bridge == "" {
				child = c
			}
		}
		if child != nil {
			t.join(mainBridge(l), at, out, child, l)
			return
		}
		if room, ok := t.cfg.Conferences[l.ch.Exten]; ok {
			t.joinBridge("sip-conference-"+room, true, at, out, l)
			return
		}
		if !l.liveChild(false) {
			t.ix.setAlone(l)
			t.meet(l, at, out)
		}
	default:
		_, cause := failure(code)
		if c := reasonCause(p.reasons); c != 0 {
			cause = c
		}
		switch {
		case l.hangup && code == 487:
			cause = l.hangupCause
		case !l.hangup && l.farCause != 0:
			// The far end's reason, not the generic one the dialplan
			// hangs the caller up with after a failed Dial.
			cause = l.farCause
		}
		t.dropSilent(l, "NOANSWER", 19, at, out)
		t.requestHangup(l, at, cause, out)
	}
}

// newLeg starts tracking a dialog-creating INVITE.
func (t *Tracker) newLeg(p *parsed, out func(bridge.Event)) {
	src, dst := p.m.Src, p.m.Dst
	if !t.isPBX(src) && !t.isPBX(dst) {
		t.stats.Ignored++ // between two other parties
		return
	}
	ruri := p.ruriUser
	num, name := identity(p)
	t.seq++
	l := &leg{
		seq:      t.seq,
		callID:   p.callID,
		fromTag:  p.fromTag,
		out:      t.isPBX(src) && !t.isPBX(dst),
		cseq:     p.cseq,
		lastSeen: p.m.Time,
	}
	l.seen = append(l.seen, msgKey{cseq: p.cseq, method: "INVITE", src: src})
	id := p.callID
	if len(t.ix.byCallID[id]) > 0 {
		// The same Call-ID on both sides (a proxy in front of the PBX, or
		// a loop): tell the legs apart by tag.
		id += "/" + p.fromTag
	}
	var endpoint string
	if l.out {
		l.device = dst
		t.peers.saw(t, dst, ruri)
		if tn, ok := t.trunk(dst); ok {
			endpoint = tn
		} else if t.isUser(ruri) {
			endpoint = ruri
		} else if t.isUser(p.toUser) {
			endpoint = p.toUser
		} else {
			endpoint = t.cfg.TrunkName
		}
		l.ch = bridge.Channel{
			ID: id, Endpoint: endpoint, State: bridge.StateDown,
			CallerNumber: ruri, ConnectedNumber: num, ConnectedName: name,
			App: "AppDial", Created: p.m.Time,
		}
	} else {
		l.device = src
		t.peers.saw(t, src, p.fromUser)
		if tn, ok := t.trunk(src); ok {
			endpoint = tn
		} else if t.isUser(p.fromUser) {
			endpoint = p.fromUser
		} else if t.isUser(num) {
			endpoint = num
		} else {
			endpoint = t.cfg.TrunkName
		}
		l.ch = bridge.Channel{
			ID: id, Endpoint: endpoint, State: bridge.StateRing,
			CallerNumber: num, CallerName: name, Exten: ruri, Created: p.m.Time,
		}
	}
	l.ch.Name = "SIP/" + endpoint + "-" + sanitize(p.callID, 8)
	t.ix.add(l)
	t.stats.Legs++

	if !l.out {
		l.call = l.ch.ID
		if p.hasReplaces {
			cid, _, _ := cutReplaces(p.replaces)
			for _, r := range t.ix.byCallID[cid] {
				if !r.ended && r != l {
					l.replaces, l.call = r, r.call
				}
			}
		}
		l.ch.LinkedID = l.call
		// Announced at the PBX's first answer that is not an
		// authentication challenge: most first INVITEs from phones are
		// challenged and sent again, and are not calls.
		return
	}

	parent, consult := t.link(p, l, num, ruri)
	var onBehalf *leg
	if len(consult) == 1 {
		onBehalf = consult[0]
	}
	switch {
	case parent != nil:
		l.parent, l.call = parent, parent.call
		parent.children = append(parent.children, l)
		t.ix.unawait(parent)
		t.ix.notAlone(parent)
		t.ix.notOrigin(parent)
		if parent.forwardTo != "" && (parent.forwardTo == ruri || diversion(p) == parent.forwardBy) {
			parent.forwardTo, parent.forwardBy = "", "" // the forward is being followed
		}
	case onBehalf != nil:
		l.onBehalf, l.call = onBehalf, onBehalf.call
		onBehalf.consult = l
	default:
		l.call = l.ch.ID
	}
	l.ch.LinkedID = l.call
	at := p.m.Time
	if parent != nil {
		t.ensure(parent, out)
	}
	if onBehalf != nil || len(consult) > 1 {
		t.newLocal(l, ruri, at, out)
	}
	t.ensure(l, out)
	t.dial(l, "", at, out)
	if parent != nil && parent.ch.ConnectedNumber != l.ch.CallerNumber {
		parent.ch.ConnectedNumber, parent.ch.ConnectedName = l.ch.CallerNumber, ""
		t.update(parent, at, out)
	}
	switch {
	case onBehalf != nil:
		t.holdParty(onBehalf, l, at, out)
	case len(consult) > 1:
		t.pendConsult(l, consult, at)
	}
}

// holdParty moves a transferer out of its call's bridge into a consultation
// bridge (the other party is on hold), as Asterisk reports it: the
// consultation's channel first, then the transferer.
func (t *Tracker) holdParty(b, consult *leg, at time.Time, out func(bridge.Event)) {
	b.held = b.bridge
	if ch := consult.local; ch != nil {
		ch.Bridge = consultBridge(b)
		t.emit(bridge.Event{Kind: bridge.BridgeEnter, Time: at, Channel: *ch, Bridge: ch.Bridge}, out)
	}
	t.join(consultBridge(b), at, out, b)
}

// diversion is the user a Diversion (RFC 5806) or History-Info header
// names as the party that redirected the call.
func diversion(p *parsed) string {
	if p.diversion == "" {
		return ""
	}
	u, _ := addressUser(p.diversion)
	return u
}
