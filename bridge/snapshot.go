package bridge

import (
	"sort"
	"time"
)

// snapshot reconciles with the full list of live channels a source took
// after (re)connecting. Channels the engine knows that are not listed ended
// while the source was away: they are closed at ev.Time, the last moment the
// source knew them alive, so talk time is never overstated. Listed channels
// the engine did not know are adopted with the history the PBX reports
// (creation time, state, application, bridge); bridge membership is brought
// up to date.
func (e *Engine) snapshot(ev Event) {
	alive := make(map[string]*Channel, len(ev.Channels))
	for i := range ev.Channels {
		alive[ev.Channels[i].ID] = &ev.Channels[i]
	}
	var gone []string
	for c := range e.chans.all() {
		if !c.is(fGone) && alive[c.id] == nil {
			gone = append(gone, c.id)
		}
	}
	sort.Strings(gone)
	for _, id := range gone {
		if c := e.chans.get(id); c != nil && !c.is(fGone) {
			e.destroy(c, 0, ev.Time)
		}
	}
	known := map[string]bool{}
	for i := range ev.Channels {
		ch := &ev.Channels[i]
		at := ch.Created
		if at.IsZero() {
			at = ev.Time
		}
		c := e.chans.get(ch.ID)
		if c == nil {
			if ch.Name == "" || ch.ID == "" {
				continue
			}
			e.adopt(ch, ev.Channels, at)
		} else if !c.is(fGone) {
			known[ch.ID] = true
			e.update(c, ch, ev.Time)
		}
	}
	// Bridges after every channel exists, so a pair meets whichever comes
	// first in the list.
	since := e.bridgedSince(ev, known)
	defer e.answeredUnbridged(ev)
	for i := range ev.Channels {
		ch := &ev.Channels[i]
		c := e.chans.get(ch.ID)
		if c == nil || c.is(fGone) || c.bridge == ch.Bridge {
			continue
		}
		if ch.Bridge == "" {
			e.leave(c, ev.Time)
		} else {
			e.enter(c, ch.Bridge, ch.Conference, since[ch.Bridge])
		}
	}
}

// adopt takes on a channel first seen in a snapshot. Its direction follows
// who placed the call, as the PBX shows it: a channel in AppDial, AppQueue
// or AppDial2 was dialled by the PBX (the last for an originate, so a user
// there is placing a call); one running the dialplan (Dial, Queue,
// ConfBridge …) or still calling in (Ring) called in. Only a channel that
// shows neither (Up, no application: bridged after a transfer) is judged
// by the party it shares its bridge with.
func (e *Engine) adopt(ch *Channel, all []Channel, at time.Time) {
	c := e.newChannel(ch, at)
	c.set(fAdopted, true)
	c.set(fConference, ch.Conference)
	c.set(fOriginated, ch.App == "AppDial2")
	// Dialled for a channel the engine never saw: a call only once it
	// meets another party (call.remnant).
	c.set(fStray, dialledApp(ch.App) && !c.is(fOriginated) && !c.is(fConference))
	switch {
	case dialledApp(ch.App):
		c.set(fIncoming, false)
	case ch.App != "" || ch.State == StateRing:
		c.set(fIncoming, true)
	case ch.State != StateUp:
		c.set(fIncoming, false)
	default:
		c.set(fIncoming, true)
		for i := range all {
			o := &all[i]
			if o.ID != ch.ID && o.Bridge != "" && o.Bridge == ch.Bridge && o.App != "" {
				c.set(fIncoming, dialledApp(o.App))
				break
			}
		}
	}
	if c.user == nil {
		return
	}
	if c.is(fIncoming) || c.is(fOriginated) {
		e.userLeg(c, Outbound, at)
	} else {
		e.userLeg(c, Inbound, at)
	}
}

// bridgedSince is, per bridge in a snapshot, the moment its members are
// taken to have been connected: never before any of them existed, never
// before the bridge was made (Channel.Bridged) or, when the source does not
// say, the PBX listed it (Event.Listed), and, for a channel the engine knew
// outside that bridge, never before it was last seen so. An answer the
// source missed is thus dated late rather than early: talk time is never
// overstated.
func (e *Engine) bridgedSince(ev Event, known map[string]bool) map[string]time.Time {
	since := map[string]time.Time{}
	made := map[string]bool{}
	later := func(b string, t time.Time) {
		if t.After(since[b]) {
			since[b] = t
		}
	}
	for i := range ev.Channels {
		ch := &ev.Channels[i]
		if ch.Bridge == "" {
			continue
		}
		later(ch.Bridge, ch.Created)
		later(ch.Bridge, ch.Bridged)
		made[ch.Bridge] = made[ch.Bridge] || !ch.Bridged.IsZero()
		if c := e.chans.get(ch.ID); c != nil && known[ch.ID] {
			later(ch.Bridge, e.at(c.created))
			if c.bridge != ch.Bridge {
				later(ch.Bridge, ev.Time)
			}
		}
	}
	for b, t := range since {
		if !made[b] {
			later(b, ev.Listed)
		}
		if t.IsZero() && since[b].IsZero() {
			since[b] = ev.Time
		}
	}
	return since
}

// answeredUnbridged connects the users found answered but with nobody to
// talk to (in no bridge, or alone in one): a phone the PBX dialled
// (AppDial, AppQueue) that is Up was answered, and is between two bridges
// (handing the call on, parking it) or a moment from being bridged.
// Answered as of the listing, so no talk is invented; without a listing
// time it stays unconnected until another party shows.
func (e *Engine) answeredUnbridged(ev Event) {
	if ev.Listed.IsZero() {
		return
	}
	for i := range ev.Channels {
		ch := &ev.Channels[i]
		c := e.chans.get(ch.ID)
		if c == nil || c.is(fGone) || !c.is(fAdopted) || c.uleg == nil || !c.uleg.answered.isZero() ||
			ch.State != StateUp || !dialledApp(ch.App) || ch.App == "AppDial2" {
			continue
		}
		at := ev.Listed
		if created := e.at(c.created); at.Before(created) {
			at = created
		}
		e.connected(c.uleg, at)
	}
}
