package dialog

import (
	"slices"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callbridge/callbridge/bridge"
)

func (t *Tracker) request(p *parsed, out func(bridge.Event)) {
	method := string(p.req.Method)
	l := t.find(p)
	if l == nil {
		if method == "INVITE" && p.toTag == "" {
			t.newLeg(p, out)
			return
		}
		t.stats.Ignored++
		return
	}
	if l.duplicate(msgKey{cseq: p.cseq, method: method, src: p.m.Src}) {
		t.stats.Retransmissions++
		return
	}
	l.lastSeen = p.m.Time
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
		if t.isPBX(p.m.Src) && p.req.GetHeader("P-Asserted-Identity") != nil {
			num, name := identity(p)
			if num != l.ch.ConnectedNumber || name != l.ch.ConnectedName {
				l.ch.ConnectedNumber, l.ch.ConnectedName = num, name
				t.emit(bridge.Event{Kind: bridge.ChannelUpdated, Time: at, Channel: l.ch}, l, out)
			}
		}
	case "CANCEL":
		cause := reasonCause(p.req)
		if l.out {
			if cause == 0 {
				cause = 16
			}
			t.dial(l, "CANCEL", at, out)
			t.end(l, at, cause, out)
			return
		}
		// The caller gave up: its channel goes when the PBX has cleaned
		// up what it dialled (the 487 and the CANCELs that follow).
		t.ensure(l, out)
		t.requestHangup(l, at, 16, out)
	case "BYE":
		cause := reasonCause(p.req)
		if cause == 0 {
			cause = 16
		}
		if !t.isPBX(p.m.Src) {
			t.inferAttended(l, at, out)
		}
		t.end(l, at, cause, out)
	case "REFER":
		if rt := p.req.GetHeader("Refer-To"); rt != nil && !t.isPBX(p.m.Src) {
			l.referTo = rt.Value()
		}
	}
}

func (t *Tracker) response(p *parsed, out func(bridge.Event)) {
	l := t.find(p)
	if l == nil {
		t.stats.Ignored++
		return
	}
	code := p.res.StatusCode
	if l.duplicate(msgKey{status: code, cseq: p.cseq, method: p.method, src: p.m.Src}) {
		t.stats.Retransmissions++
		return
	}
	l.lastSeen = p.m.Time
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
	switch {
	case code == 100:
	case code < 200:
		if !l.ringing && !l.up {
			// Only the first early dialog counts: a forking proxy may
			// report several, for one ringing leg.
			l.ringing = true
			l.ch.State = bridge.StateRinging
			t.emit(bridge.Event{Kind: bridge.ChannelUpdated, Time: at, Channel: l.ch}, l, out)
			t.dial(l, "RINGING", at, out)
		}
	case code < 300:
		if l.up {
			return // 2xx from a second fork; the PBX will BYE it
		}
		l.up = true
		l.ch.State = bridge.StateUp
		t.emit(bridge.Event{Kind: bridge.ChannelUpdated, Time: at, Channel: l.ch}, l, out)
		t.dial(l, "ANSWER", at, out)
		switch {
		case l.onBehalf != nil && !l.onBehalf.ended:
			t.join(consultBridge(l.onBehalf), at, out, l)
		case l.parent != nil && l.parent.up && !l.parent.ended && t.partner(l.parent) == nil:
			t.join(mainBridge(l.parent), at, out, l, l.parent)
		}
	case retried(code):
	default:
		status, cause := failure(code)
		if c := reasonCause(p.res); c != 0 {
			cause = c
		}
		t.dial(l, status, at, out)
		t.end(l, at, cause, out)
	}
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
		l.up = true
		l.ch.State = bridge.StateUp
		t.emit(bridge.Event{Kind: bridge.ChannelUpdated, Time: at, Channel: l.ch}, l, out)
		if r := l.replaces; r != nil && !r.ended {
			t.takeOver(l, r, at, out)
			return
		}
		// Bridge with the leg dialled for it that answered last.
		var child *leg
		for _, c := range t.live {
			if c.parent == l && c.up && !c.ended && c.bridge == "" {
				child = c
			}
		}
		if child != nil {
			t.join(mainBridge(l), at, out, child, l)
		}
	default:
		_, cause := failure(code)
		if c := reasonCause(p.res); c != 0 {
			cause = c
		}
		if l.hangup && code == 487 {
			cause = l.hangupCause
		}
		t.requestHangup(l, at, cause, out)
	}
}

// newLeg starts tracking a dialog-creating INVITE.
func (t *Tracker) newLeg(p *parsed, out func(bridge.Event)) {
	src, dst := p.m.Src, p.m.Dst
	if !t.isPBX(src) && !t.isPBX(dst) {
		t.learn(src, dst)
		if !t.isPBX(src) && !t.isPBX(dst) {
			t.stats.Ignored++ // between two other parties
			return
		}
	} else {
		t.learn(src, dst)
	}
	ruri := p.req.Recipient.User
	num, name := identity(p)
	l := &leg{
		callID:   p.callID,
		fromTag:  p.fromTag,
		out:      t.isPBX(src) && !t.isPBX(dst),
		cseq:     p.cseq,
		lastSeen: p.m.Time,
	}
	l.seen = append(l.seen, msgKey{cseq: p.cseq, method: "INVITE", src: src})
	id := p.callID
	if len(t.byCallID[id]) > 0 {
		// The same Call-ID on both sides (a proxy in front of the PBX, or
		// a loop): tell the legs apart by tag.
		id += "/" + p.fromTag
	}
	var endpoint string
	if l.out {
		l.device = dst
		if tn, ok := t.trunk(dst); ok {
			endpoint = tn
		} else if t.isUser(ruri) {
			endpoint = ruri
		} else if to := p.req.To(); to != nil && t.isUser(to.Address.User) {
			endpoint = to.Address.User
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
	t.byCallID[p.callID] = append(t.byCallID[p.callID], l)
	t.live = append(t.live, l)
	t.stats.Legs++

	if !l.out {
		l.call = l.ch.ID
		if rp := p.req.GetHeader("Replaces"); rp != nil {
			cid, _, _ := strings.Cut(rp.Value(), ";")
			for _, r := range t.byCallID[strings.TrimSpace(cid)] {
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

	parent, onBehalf := t.link(p, l, num, ruri)
	switch {
	case parent != nil:
		l.parent, l.call = parent, parent.call
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
	t.ensure(l, out)
	t.dial(l, "", at, out)
	if parent != nil && parent.ch.ConnectedNumber != l.ch.CallerNumber {
		parent.ch.ConnectedNumber, parent.ch.ConnectedName = l.ch.CallerNumber, ""
		t.emit(bridge.Event{Kind: bridge.ChannelUpdated, Time: at, Channel: parent.ch}, parent, out)
	}
	if onBehalf != nil {
		// The transferer leaves the call's bridge for a consultation
		// bridge (the other party is on hold), as Asterisk reports it.
		onBehalf.held = onBehalf.bridge
		t.join(consultBridge(onBehalf), at, out, onBehalf)
	}
}

// link finds what an INVITE the PBX sends was placed for. A B2BUA gives
// each side its own Call-ID, so:
//  1. the HEP correlation id, when it names another tracked dialog;
//  2. otherwise the live leg not (or no longer) bridged with anyone that
//     relates best: it presents the caller this INVITE presents (+2), it
//     dialled the number this INVITE asks for (+2), it is still unanswered
//     (+1); a score of 2, or 1 within LinkWindow, links;
//  3. otherwise, a consultation: the INVITE presents a user whose leg is
//     bridged in a call (an attended transfer the PBX runs, e.g. AMI
//     Atxfer or a feature code), placed on behalf of that leg;
//  4. otherwise a call of its own (an originate, a callback).
func (t *Tracker) link(p *parsed, l *leg, num, ruri string) (parent, onBehalf *leg) {
	if c := p.m.CorrelationID; c != "" && c != p.callID {
		for _, cand := range t.byCallID[c] {
			if !cand.ended {
				if cand.out && cand.up && t.partner(cand) != nil {
					return nil, cand
				}
				return cand, nil
			}
		}
	}
	best, bestScore := (*leg)(nil), 0
	for _, c := range t.live {
		if c == l || c.ended || c.hangup || t.partner(c) != nil || (c.out && !c.up) {
			continue
		}
		s := 0
		if num != "" && (num == c.ch.CallerNumber || (!c.out && num == c.ch.CallerName)) {
			s += 2
		}
		if !c.out && ruri != "" && ruri == c.ch.Exten {
			s += 2
		}
		if !c.out && !c.up {
			s++
		}
		if s < 2 && !(s == 1 && p.m.Time.Sub(c.ch.Created) <= t.cfg.LinkWindow) {
			continue
		}
		if s >= bestScore {
			best, bestScore = c, s
		}
	}
	if best != nil {
		return best, nil
	}
	if t.isUser(num) {
		for _, c := range slices.Backward(t.live) {
			if !c.ended && c.up && c.ch.Endpoint == num && t.partner(c) != nil {
				return nil, c
			}
		}
	}
	return nil, nil
}

// partner is the live leg sharing l's bridge, if any.
func (t *Tracker) partner(l *leg) *leg {
	if l.bridge == "" {
		return nil
	}
	for _, c := range t.live {
		if c != l && !c.ended && c.bridge == l.bridge {
			return c
		}
	}
	return nil
}

func mainBridge(l *leg) string    { return "sip-" + l.call }
func consultBridge(l *leg) string { return "sip-consult-" + l.ch.ID }

// join puts legs into bridge id, leaving any other bridge first.
func (t *Tracker) join(id string, at time.Time, out func(bridge.Event), legs ...*leg) {
	for _, l := range legs {
		if l.bridge == id {
			continue
		}
		t.leave(l, at, out)
		l.bridge = id
		t.emit(bridge.Event{Kind: bridge.BridgeEnter, Time: at, Channel: l.ch, Bridge: id}, l, out)
	}
}

func (t *Tracker) leave(l *leg, at time.Time, out func(bridge.Event)) {
	if l.bridge == "" {
		return
	}
	t.emit(bridge.Event{Kind: bridge.BridgeLeave, Time: at, Channel: l.ch, Bridge: l.bridge}, l, out)
	l.bridge = ""
}

// inferAttended reports an attended transfer the PBX ran itself (Asterisk's
// Atxfer or the atxfer feature code): nothing transfer-shaped crosses the
// wire, only a consultation INVITE to the target presenting the transferer
// (see link), then the transferer's BYE while the consultation and the held
// party are both live. Asterisk completes the transfer when the transferer
// hangs up there, which it confirms on the wire with a connected-line
// re-INVITE to the target presenting the held party; that re-INVITE comes
// after the BYE, so the BYE is where the transfer is reported.
func (t *Tracker) inferAttended(l *leg, at time.Time, out func(bridge.Event)) {
	c := l.consult
	if c == nil || c.ended || l.held == "" {
		return
	}
	var held *leg
	for _, x := range t.live {
		if x != l && !x.ended && x.bridge == l.held {
			held = x
		}
	}
	if held == nil {
		return
	}
	t.stats.Transfers++
	t.emit(bridge.Event{
		Kind: bridge.AttendedTransfer, Time: at,
		Channel: l.ch, Second: l.ch.ID, Peer: held.ch, Target: c.ch.ID,
	}, l, out)
	l.consult, c.onBehalf = nil, nil
	if c.up {
		t.join(l.held, at, out, c)
	} else {
		c.parent = held // bridged with the held party when it answers
	}
	l.held = ""
}

// refer reports a transfer a device asked for with REFER, once accepted.
// A Refer-To with a Replaces header names the device's consultation
// dialog: an attended transfer; otherwise a blind one to the Refer-To user.
func (t *Tracker) refer(l *leg, referTo string, at time.Time, out func(bridge.Event)) {
	var u sip.Uri
	var hp sip.HeaderParams
	if _, err := sip.ParseAddressValue(referTo, &u, &hp); err != nil {
		return
	}
	peer := t.partner(l)
	var peerCh bridge.Channel
	if peer != nil {
		peerCh = peer.ch
	}
	t.stats.Transfers++
	if rep, ok := u.Headers.Get("Replaces"); ok {
		cid, _, _ := strings.Cut(unescape(rep), ";")
		for _, second := range t.byCallID[cid] {
			if second.ended {
				continue
			}
			target := t.partner(second)
			ev := bridge.Event{Kind: bridge.AttendedTransfer, Time: at, Channel: l.ch, Second: second.ch.ID, Peer: peerCh}
			if target != nil {
				ev.Target = target.ch.ID
			}
			t.emit(ev, l, out)
			if target != nil && peer != nil {
				t.join(mainBridge(peer), at, out, target, peer)
			}
			return
		}
	}
	t.emit(bridge.Event{Kind: bridge.BlindTransfer, Time: at, Channel: l.ch, Peer: peerCh, Exten: u.User}, l, out)
	if peer != nil {
		// The transferee waits alone for the PBX to dial the target,
		// which link then finds as the INVITE's parent.
		t.leave(peer, at, out)
	}
}

// takeOver handles an answered INVITE with Replaces: the new leg n takes
// r's place. With r in a call, that is a transfer completed by the target
// (r's party is handed to n); with r still ringing, n picked it up.
func (t *Tracker) takeOver(n, r *leg, at time.Time, out func(bridge.Event)) {
	if p := t.partner(r); p != nil {
		t.stats.Transfers++
		t.emit(bridge.Event{Kind: bridge.AttendedTransfer, Time: at, Channel: r.ch, Second: r.ch.ID, Peer: p.ch, Target: n.ch.ID}, n, out)
		t.join(mainBridge(p), at, out, n, p)
		return
	}
	if r.parent != nil && !r.parent.ended {
		n.parent = r.parent
		t.emit(bridge.Event{Kind: bridge.Dial, Time: at, Channel: r.parent.ch, Peer: n.ch, DialStatus: "ANSWER"}, n, out)
		if r.parent.up {
			t.join(mainBridge(r.parent), at, out, n, r.parent)
		}
	}
}

func unescape(s string) string {
	r := strings.NewReplacer("%3B", ";", "%3b", ";", "%3D", "=", "%3d", "=", "%40", "@", "%25", "%")
	return r.Replace(s)
}

// ensure announces a leg the first time something happens on it.
func (t *Tracker) ensure(l *leg, out func(bridge.Event)) {
	if l.announce {
		return
	}
	l.announce = true
	t.emit(bridge.Event{Kind: bridge.ChannelCreated, Time: l.ch.Created, Channel: l.ch}, l, out)
}

// dial reports dial progress of an outgoing leg.
func (t *Tracker) dial(l *leg, status string, at time.Time, out func(bridge.Event)) {
	if !l.out {
		return
	}
	ev := bridge.Event{Kind: bridge.Dial, Time: at, Peer: l.ch, DialStatus: status}
	if l.parent != nil {
		ev.Channel = l.parent.ch
	}
	if status == "" {
		ev.DialString = l.ch.CallerNumber
		if !t.isUser(l.ch.Endpoint) {
			ev.DialString += "@" + l.ch.Endpoint
		}
	}
	t.emit(ev, l, out)
}

// requestHangup asks a leg to hang up and destroys it once nothing the PBX
// dialled for it is still ringing.
func (t *Tracker) requestHangup(l *leg, at time.Time, cause int, out func(bridge.Event)) {
	if l.ended {
		return
	}
	if !l.hangup {
		l.hangup, l.hangupCause, l.hangupAt = true, cause, at
		t.emit(bridge.Event{Kind: bridge.HangupRequest, Time: at, Channel: l.ch, Cause: cause}, l, out)
	} else if cause != 0 {
		l.hangupCause = cause
	}
	t.tryDestroy(l, at, out)
}

func (t *Tracker) tryDestroy(l *leg, at time.Time, out func(bridge.Event)) {
	for _, c := range t.live {
		if c.parent == l && !c.ended && !c.up {
			return
		}
	}
	t.destroy(l, at, out)
}

// end hangs a leg up now.
func (t *Tracker) end(l *leg, at time.Time, cause int, out func(bridge.Event)) {
	if l.ended {
		return
	}
	if !l.hangup {
		l.hangup, l.hangupCause = true, cause
		t.emit(bridge.Event{Kind: bridge.HangupRequest, Time: at, Channel: l.ch, Cause: cause}, l, out)
	}
	l.hangupCause = cause
	t.destroy(l, at, out)
}

func (t *Tracker) destroy(l *leg, at time.Time, out func(bridge.Event)) {
	if l.ended {
		return
	}
	t.ensure(l, out)
	t.leave(l, at, out)
	l.ended, l.endedAt = true, at
	if i := slices.Index(t.live, l); i >= 0 {
		t.live = slices.Delete(t.live, i, i+1)
	}
	t.emit(bridge.Event{Kind: bridge.ChannelDestroyed, Time: at, Channel: l.ch, Cause: l.hangupCause}, l, out)
	// A consultation that ends without a transfer returns the transferer
	// to the call it held.
	if b := l.onBehalf; b != nil && !b.ended && b.consult == l {
		b.consult = nil
		if b.held != "" {
			t.join(b.held, at, out, b)
			b.held = ""
		}
	}
	// A caller waiting for its dialled legs to go can go now.
	if p := l.parent; p != nil && p.hangup && !p.ended {
		t.tryDestroy(p, at, out)
	}
}

func (t *Tracker) emit(ev bridge.Event, _ *leg, out func(bridge.Event)) {
	if ev.Time.IsZero() {
		return
	}
	out(ev)
}
