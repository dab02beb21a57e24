package cards

import (
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
)

// call is one card in progress and what was decided about it.
type call struct {
	card Card
	// events are the call's events so far, never changed once emitted
	// (agent.recent points into them), in first while they fit: offer,
	// open, connected, ended, so one allocation holds most calls whole.
	events []Event
	first  [4]Event
	// connectedAt and endedAt are what the card's ConnectedAt and
	// EndedAt point to, each set once, before it is.
	connectedAt, endedAt time.Time
	pop                  crmsync.UserScreenPop // the agent's settings when it was offered
	pops                 bool                  // this call opens the card at all
	// remote is the party the card was built for, as the PBX gave it.
	remote, remoteName string
	opened             bool
	// pending cancels the delayed open; gen tells a timer that fired
	// late (after a newer decision) that it no longer counts.
	pending func() bool
	gen     int
	// seen is when the engine first saw the call, on its own clock (the
	// card's times are the PBX's): OnCall's staleness is measured from it.
	seen time.Time
}

// offer makes the card of a call first seen for a, and sends offer, then
// open at once when the card opens on the call without a delay.
func (e *Engine) offer(a *agent, tr bridge.Transition) *call {
	c := &call{pop: e.opt.ScreenPop(a.ext), remote: tr.RemoteNumber, remoteName: tr.RemoteName, seen: e.clock.Now()}
	c.events = c.first[:0]
	p, manual := e.placed[tr.CallID]
	if manual && p.user != a.ext {
		manual = false
	}
	c.card = Card{CallID: tr.CallID, Direction: string(tr.Direction), Internal: tr.Internal, State: string(bridge.Ringing),
		DeviceNumber: a.ext, StartedAt: tr.Time.UTC(), DDINumber: tr.DDI}
	c.card.DeviceName = e.users[a.ext]
	switch {
	case manual:
		// What the PBX signals for the agent's own phone ringing is the
		// caller id callbridge gave it; the card is about the number the
		// agent asked for.
		c.card.Type, c.card.Internal, c.card.Direction = crmsync.CallManual, p.internal, string(bridge.Outbound)
		c.remote, c.remoteName = p.number, ""
		c.card.DDINumber = ""
	case tr.Internal:
		c.card.Type = crmsync.CallInternal
	case tr.Direction == bridge.Outbound:
		c.card.Type = crmsync.CallOutbound
	default:
		c.card.Type = crmsync.CallInbound
	}
	c.pops = c.pop.Pops(c.card.Direction == string(bridge.Outbound), manual)
	e.build(c)
	a.calls[tr.CallID] = c
	a.staleAt(c)
	e.emit(a, c, kindOffer, tr.Time)
	e.phone(a, tr.Time)
	if c.pops && c.pop.Open == crmsync.PopOnCall {
		e.scheduleOpen(a, c, tr.Time)
	}
	return c
}

// update follows a later transition: a transfer can give the call another
// remote party, whose card it then is.
func (e *Engine) update(a *agent, c *call, tr bridge.Transition) {
	if c.card.Type == crmsync.CallManual || tr.RemoteNumber == "" || tr.RemoteNumber == c.remote {
		return
	}
	c.remote, c.remoteName = tr.RemoteNumber, tr.RemoteName
	c.card.Internal = tr.Internal
	if c.card.Type == crmsync.CallInternal && !tr.Internal {
		c.card.Type = crmsync.CallInbound
		if tr.Direction == bridge.Outbound {
			c.card.Type = crmsync.CallOutbound
		}
	} else if tr.Internal {
		c.card.Type = crmsync.CallInternal
	}
	e.build(c)
}

// connected marks the card connected, and applies close: connected (and
// open: connected).
func (e *Engine) connected(a *agent, c *call, at time.Time) {
	if c.card.ConnectedAt != nil {
		return
	}
	c.connectedAt = at.UTC()
	c.card.ConnectedAt, c.card.State = &c.connectedAt, string(bridge.Talking)
	a.connected++
	e.emit(a, c, kindConnected, at)
	e.phone(a, at)
	if !c.pops {
		return
	}
	switch {
	case c.pop.Open == crmsync.PopOnConnected && c.pop.Close != crmsync.PopOnConnected:
		e.scheduleOpen(a, c, at)
	case c.pop.Close == crmsync.PopOnConnected:
		// A pending open would be closed the moment it came: it never
		// comes. An open card closes.
		e.cancelOpen(c)
		if c.card.Open {
			c.card.Open = false
			e.emit(a, c, kindClose, at)
		}
	}
}

// end sends ended and forgets the call; a pending open is never sent.
func (e *Engine) end(a *agent, c *call, at time.Time) {
	e.cancelOpen(c)
	c.endedAt = at.UTC()
	c.card.EndedAt, c.card.State = &c.endedAt, string(bridge.HungUp)
	if a.calls[c.card.CallID] == c {
		delete(a.calls, c.card.CallID)
		if c.card.ConnectedAt != nil {
			a.connected--
		}
	}
	if _, ok := e.placed[c.card.CallID]; ok {
		delete(e.placed, c.card.CallID)
	}
	e.emit(a, c, kindEnded, at)
	e.phone(a, at)
}

// scheduleOpen opens the card at once (at), or after caller_card_delay.
func (e *Engine) scheduleOpen(a *agent, c *call, at time.Time) {
	if c.opened {
		return
	}
	if c.pop.Delay <= 0 {
		e.open(a, c, at)
		return
	}
	e.cancelOpen(c)
	c.gen++
	gen, id := c.gen, c.card.CallID
	c.pending = e.clock.AfterFunc(c.pop.Delay, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		cur := a.calls[id]
		if cur != c || c.gen != gen || c.pending == nil {
			return // ended, or decided otherwise meanwhile
		}
		c.pending = nil
		e.open(a, c, e.clock.Now())
	})
}

func (e *Engine) cancelOpen(c *call) {
	if c.pending != nil {
		c.pending()
		c.pending = nil
	}
	c.gen++
}

func (e *Engine) open(a *agent, c *call, at time.Time) {
	if c.opened {
		return
	}
	// A transition's time is the PBX's; the clock may lag it by a little.
	if last := c.events[len(c.events)-1].At; at.Before(last) {
		at = last
	}
	c.opened, c.card.Open = true, true
	e.emit(a, c, kindOpen, at)
}
