package dialog

import (
	"slices"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// A consultation the PBX places for a user who has several calls in
// progress (link's step 3 found more than one of the user's legs bridged
// with someone) is held back until the PBX says which: Asterisk's
// attended transfer sends the transferer's phone a connected-line
// re-INVITE presenting the target right after the consultation INVITE.
// Until then the consultation's events wait; at its first final response,
// or after LinkWindow, the user's latest call is taken, as before.
type pendingConsult struct {
	l      *leg   // the consultation leg
	cands  []*leg // the user's legs it may have been placed from
	at     time.Time
	events []bridge.Event
}

func (t *Tracker) pendConsult(l *leg, cands []*leg, at time.Time) {
	pc := &pendingConsult{l: l, cands: cands, at: at}
	l.pending = pc
	t.consults = append(t.consults, pc)
}

// pendingOf is the held-back consultation an event is about, if any.
func (t *Tracker) pendingOf(ev bridge.Event) *pendingConsult {
	for _, pc := range t.consults {
		if ev.Channel.ID == pc.l.ch.ID || ev.Peer.ID == pc.l.ch.ID {
			return pc
		}
		if ch := pc.l.local; ch != nil && ev.Channel.ID == ch.ID {
			return pc
		}
	}
	return nil
}

// settleConsult: a connected-line update to leg c presenting a held-back
// consultation's target shows c is the transferer.
func (t *Tracker) settleConsult(c *leg, at time.Time, out func(bridge.Event)) {
	for _, pc := range slices.Clone(t.consults) {
		if slices.Contains(pc.cands, c) && c.ch.ConnectedNumber == pc.l.ch.CallerNumber {
			t.decideConsult(pc, c, at, out)
		}
	}
}

// decideConsult attaches a held-back consultation to b (nil: the user's
// latest call still fitting) and lets its events through.
func (t *Tracker) decideConsult(pc *pendingConsult, b *leg, at time.Time, out func(bridge.Event)) {
	if i := slices.Index(t.consults, pc); i >= 0 {
		t.consults = slices.Delete(t.consults, i, i+1)
	}
	pc.l.pending = nil
	if b == nil {
		for _, c := range slices.Backward(pc.cands) {
			if !c.ended && c.consult == nil && t.partner(c) != nil {
				b = c
				break
			}
		}
	}
	l := pc.l
	local := ""
	if l.local != nil {
		local = l.local.ID
	}
	if b != nil {
		l.onBehalf, l.call, l.ch.LinkedID = b, b.call, b.call
		if l.local != nil {
			l.local.LinkedID = b.call
		}
		b.consult = l
		for i := range pc.events {
			ev := &pc.events[i]
			for _, ch := range []*bridge.Channel{&ev.Channel, &ev.Peer} {
				if ch.ID == l.ch.ID || (local != "" && ch.ID == local) {
					ch.LinkedID = l.call
				}
			}
		}
	} else {
		// No consultation after all: a call of its own, without the
		// consultation channel.
		l.local = nil
	}
	for _, ev := range pc.events {
		if b == nil && local != "" {
			if ev.Channel.ID == local && ev.Kind != bridge.Dial {
				continue
			}
			if ev.Kind == bridge.Dial && ev.Channel.ID == local {
				ev.Channel = bridge.Channel{}
			}
		}
		out(ev)
	}
	if b != nil {
		t.holdParty(b, l, at, out)
	}
}

// expireConsults decides the consultations held back longer than
// LinkWindow.
func (t *Tracker) expireConsults(now time.Time, out func(bridge.Event)) {
	for _, pc := range slices.Clone(t.consults) {
		if now.Sub(pc.at) > t.cfg.LinkWindow {
			t.decideConsult(pc, nil, now, out)
		}
	}
}
