package bridge

import "sort"

// snapshot reconciles with the full list of live channels a source took
// after (re)connecting. Channels the engine knows that are not listed ended
// while the source was away: they are closed at ev.Time, the last moment the
// source knew them alive, so talk time is never overstated. Listed channels
// the engine did not know are adopted; bridge membership is brought up to
// date.
func (e *Engine) snapshot(ev Event) {
	alive := make(map[string]*Channel, len(ev.Channels))
	for i := range ev.Channels {
		alive[ev.Channels[i].ID] = &ev.Channels[i]
	}
	var gone []string
	for id, c := range e.chans {
		if !c.gone && alive[id] == nil {
			gone = append(gone, id)
		}
	}
	sort.Strings(gone)
	for _, id := range gone {
		if c := e.chans[id]; c != nil && !c.gone {
			e.destroy(c, 0, ev.Time)
		}
	}
	for i := range ev.Channels {
		ch := &ev.Channels[i]
		at := ch.Created
		if at.IsZero() {
			at = ev.Time
		}
		c := e.chans[ch.ID]
		if c == nil {
			if ch.Name == "" {
				continue
			}
			c = e.newChannel(ch, at)
			c.incoming = !dialledApp(ch.App) && (ch.State == StateRing || ch.State == StateUp)
			if c.user != nil {
				if c.incoming {
					e.userLeg(c, Outbound, at)
				} else {
					e.userLeg(c, Inbound, at)
				}
			}
		} else if !c.gone {
			e.update(c, ch, ev.Time)
		}
	}
	// Bridges after every channel exists, so a pair meets whichever comes
	// first in the list.
	for i := range ev.Channels {
		ch := &ev.Channels[i]
		c := e.chans[ch.ID]
		if c == nil || c.gone || c.bridge == ch.Bridge {
			continue
		}
		if ch.Bridge == "" {
			e.leave(c)
		} else {
			e.enter(c, ch.Bridge, false, ev.Time)
		}
	}
}
