package dialog

import (
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callbridge/callbridge/bridge"
)

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
	for _, x := range t.ix.members(l.held) {
		if x != l && !x.ended {
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
	}, out)
	t.dropLocal(c, at, out) // the target is handed to the held party directly
	l.consult, c.onBehalf = nil, nil
	if c.up {
		t.join(l.held, at, out, c)
	} else {
		c.parent = held // bridged with the held party when it answers
		held.children = append(held.children, c)
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
		cid, _, _ := cutReplaces(unescape(rep))
		for _, second := range t.ix.byCallID[cid] {
			if second.ended {
				continue
			}
			target := t.partner(second)
			ev := bridge.Event{Kind: bridge.AttendedTransfer, Time: at, Channel: l.ch, Second: second.ch.ID, Peer: peerCh}
			if target != nil {
				ev.Target = target.ch.ID
			}
			t.emit(ev, out)
			if target != nil && peer != nil {
				t.join(mainBridge(peer), at, out, target, peer)
			}
			return
		}
	}
	t.emit(bridge.Event{Kind: bridge.BlindTransfer, Time: at, Channel: l.ch, Peer: peerCh, Exten: u.User}, out)
	if peer != nil {
		// The transferee waits alone for the PBX to dial the target,
		// which link then finds as the INVITE's parent. A parking
		// extension dials nobody: the parked caller waits until a phone
		// retrieves it (see meet).
		t.leave(peer, at, out)
		t.ix.await(peer, u.User)
	}
}

// takeOver handles an answered INVITE with Replaces: the new leg n takes
// r's place. With r in a call, that is a transfer completed by the target
// (r's party is handed to n); with r still ringing, n picked it up.
func (t *Tracker) takeOver(n, r *leg, at time.Time, out func(bridge.Event)) {
	if p := t.partner(r); p != nil {
		t.stats.Transfers++
		t.emit(bridge.Event{Kind: bridge.AttendedTransfer, Time: at, Channel: r.ch, Second: r.ch.ID, Peer: p.ch, Target: n.ch.ID}, out)
		t.join(mainBridge(p), at, out, n, p)
		return
	}
	if r.parent != nil && !r.parent.ended {
		n.parent = r.parent
		r.parent.children = append(r.parent.children, n)
		t.emit(bridge.Event{Kind: bridge.Dial, Time: at, Channel: r.parent.ch, Peer: n.ch, DialStatus: "ANSWER"}, out)
		if r.parent.up {
			t.join(mainBridge(r.parent), at, out, n, r.parent)
		}
	}
}
