package cel

import (
	"strings"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// parkTransferWindow: a PARK_START within this of a transfer of the same
// channel is the end of that transfer (a REFER to the parking extension),
// not a park of its own.
const parkTransferWindow = 5 * time.Second

// apply turns one released row into events.
func (m *Mapper) apply(p *pending) {
	r, c, x := &p.row, p.ch, &p.x
	if c.destroyed {
		return
	}
	if !c.created {
		m.create(c, r)
	}
	st := bridge.StateUnknown
	if r.Event == EventAnswer {
		st = bridge.StateUp
	}
	m.refresh(c, r, st)
	switch r.Event {
	case EventAnswer:
		if c.role != roleIncoming && !c.answered {
			m.dial(c, r.Time, "ANSWER")
		}
		c.answered = true
	case EventHangup:
		c.cause, _ = x.cause()
		if x.DialStatus != "" {
			m.emit(bridge.Event{Kind: bridge.VarSet, Time: r.Time, Channel: c.ref(r), Var: "DIALSTATUS", Value: x.DialStatus})
		}
		if c.role != roleIncoming && !c.answered && !c.offerEnded {
			c.offerEnded = true
			fwd := ""
			if c.redirected && c.dialer != nil {
				fwd = c.dialer.takeForward(r.Time) // a forward the PBX did not follow
			}
			m.dialForward(c, r.Time, c.finalStatus(), fwd)
		}
		m.endOffers(c, r.Time)
	case EventChanEnd:
		c.destroyed, c.destroyedAt = true, r.Time
		m.emit(bridge.Event{Kind: bridge.ChannelDestroyed, Time: r.Time, Channel: c.ref(r), Cause: c.cause})
	case EventBridgeEnter:
		c.bridge, c.lastBridge = x.BridgeID, x.BridgeID
		m.emit(bridge.Event{Kind: bridge.BridgeEnter, Time: r.Time, Channel: c.ref(r), Bridge: x.BridgeID,
			Conference: r.AppName == "ConfBridge" || r.AppName == "Stasis"})
	case EventBridgeExit:
		c.bridge = ""
		m.emit(bridge.Event{Kind: bridge.BridgeLeave, Time: r.Time, Channel: c.ref(r), Bridge: x.BridgeID})
	case EventBlindTransfer:
		tee := na(x.Transferee)
		m.noteTransfer(tee, r.Time)
		m.emit(bridge.Event{Kind: bridge.BlindTransfer, Time: r.Time, Channel: c.ref(r),
			Peer: bridge.Channel{ID: tee}, Exten: x.Exten, Context: x.Context})
	case EventAttendedTransfer:
		tee := na(x.Transferee)
		m.noteTransfer(tee, r.Time)
		m.emit(bridge.Event{Kind: bridge.AttendedTransfer, Time: r.Time, Channel: c.ref(r),
			Peer: bridge.Channel{ID: tee}, Second: na(x.Channel2), Target: na(x.Target)})
	case EventParkStart:
		m.park(c, r, x)
	case EventDTMF:
		// A transferer's keys during a consultation (the abort code)
		// say who ended it.
		m.emit(bridge.Event{Kind: bridge.DTMF, Time: r.Time, Channel: c.ref(r), Value: x.Digit})
	case EventUser:
		m.emit(bridge.Event{Kind: bridge.VarSet, Time: r.Time, Channel: c.ref(r), Var: bridge.PrivacyVar, Value: strings.TrimSpace(x.Extra)})
	}
}

// endOffers ends the offers a channel that hangs up still had ringing. Its
// Dial ended with it: ARI reports the Dial's end and the callee's hang-up
// request at that moment, while the callee's own CEL HANGUP can come a
// while later, when the device has been torn down.
func (m *Mapper) endOffers(d *chanState, at time.Time) {
	for _, c := range d.callees {
		if !c.created || c.destroyed || c.answered || c.offerEnded {
			continue
		}
		c.offerEnded = true
		m.dial(c, at, c.finalStatus())
		m.emit(bridge.Event{Kind: bridge.HangupRequest, Time: at, Channel: bridge.Channel{ID: c.id, Name: c.name}})
	}
}

// ref is the channel as an event names it.
func (c *chanState) ref(r *Row) bridge.Channel {
	return bridge.Channel{ID: c.id, Name: r.ChanName, LinkedID: r.LinkedID}
}

// create reports a channel's birth: ChannelCreated and, for a channel the
// PBX dialled, the Dial that offered it. CEL has no ringing: the offer is
// the callee's CHAN_START, which ARI reports as Dial's start a moment
// before the phone's 180.
func (m *Mapper) create(c *chanState, r *Row) {
	c.created = true
	self := c.id == c.startLinked
	switch {
	case localHalf(c.name) == 2:
		c.role = roleIncoming
	case c.outgoing == "AppDial2", !self && c.outgoing == "":
		c.role = roleOriginated
	case !self:
		c.role = roleDialled
		c.dialer = c.chooseDialer()
		if c.dialer != nil {
			c.dialString, _ = c.dialer.dialledBy(c.name)
			m.followForward(c.dialer, r.Time)
			c.dialer.callees = append(c.dialer.callees, c)
		}
	default:
		c.role = roleIncoming
	}
	ch := c.ref(r)
	ch.CallerNumber, ch.CallerName = r.CallerNum, r.CallerName
	ch.Exten, ch.Context = r.Exten, r.Context
	ch.Created = r.Time
	ch.State = bridge.StateRing
	if c.role != roleIncoming {
		ch.State = bridge.StateDown
		ch.App = c.outgoing
	}
	c.sentNum, c.sentName, c.sentExten = r.CallerNum, r.CallerName, r.Exten
	m.emit(bridge.Event{Kind: bridge.ChannelCreated, Time: r.Time, Channel: ch})
	if c.role != roleIncoming {
		m.dial(c, r.Time, "")
	}
}

// followForward reports, before the Dial d begins to a new channel at at,
// the end of d's dial to a phone that forwarded the call there: app_dial
// requests the forward's target first and then writes FORWARD and hangs
// the phone up, where ARI reports the forwarding Dial's end (with the
// target) before the Dial to it, as the engine needs them.
func (m *Mapper) followForward(d *chanState, at time.Time) {
	for _, f := range d.callees {
		if !f.redirected || f.answered || f.offerEnded || f.destroyed {
			continue
		}
		if to := d.takeForward(at); to != "" {
			f.offerEnded = true
			m.dialForward(f, at, "CANCEL", to)
		}
		return
	}
}

// dial reports the Dial that offered c, with status "" (begun) or final.
func (m *Mapper) dial(c *chanState, at time.Time, status string) {
	m.dialForward(c, at, status, "")
}

// dialForward is dial with, on a final status, where the phone forwarded
// the call.
func (m *Mapper) dialForward(c *chanState, at time.Time, status, forward string) {
	ev := bridge.Event{Kind: bridge.Dial, Time: at, Peer: bridge.Channel{ID: c.id, Name: c.name},
		DialStatus: status, DialString: c.dialString, Forward: forward}
	if d := c.dialer; d != nil {
		ev.Channel = bridge.Channel{ID: d.id, Name: d.name}
	}
	m.emit(ev)
}

// refresh passes on a change of caller id or of the dialled extension
// (ARI's snapshots carry them in every event; CEL in every row), and
// state Up on ANSWER.
func (m *Mapper) refresh(c *chanState, r *Row, st bridge.ChannelState) {
	num := r.CallerNum != c.sentNum || r.CallerName != c.sentName
	num = num && (r.CallerNum != "" || r.CallerName != "")
	ext := (c.sentExten == "" || c.sentExten == "s") && r.Exten != "" && r.Exten != "s"
	if !num && !ext && st == bridge.StateUnknown {
		return
	}
	ch := c.ref(r)
	ch.State = st
	if num {
		ch.CallerNumber, ch.CallerName = r.CallerNum, r.CallerName
		c.sentNum, c.sentName = r.CallerNum, r.CallerName
	}
	if ext {
		ch.Exten = r.Exten
		c.sentExten = r.Exten
	}
	m.emit(bridge.Event{Kind: bridge.ChannelUpdated, Time: r.Time, Channel: ch})
}

func (m *Mapper) noteTransfer(id string, at time.Time) {
	if t := m.chans[id]; t != nil {
		t.transferred = at
	}
}

// park reports a call parked without a transfer row (the one-touch parking
// feature, Park() in the dialplan) as what SEMANTICS.md says parking is: a
// blind transfer by the parker. A REFER to the parking extension already
// gave a BLINDTRANSFER row just before.
func (m *Mapper) park(c *chanState, r *Row, x *extra) {
	if !c.transferred.IsZero() && r.Time.Sub(c.transferred) < parkTransferWindow {
		return
	}
	dev := x.ParkerDialString
	if dev == "" {
		return
	}
	var parker *chanState
	for _, o := range m.chans {
		if o == c || !o.created || o.destroyed || o.linked != c.linked || !strings.EqualFold(device(o.name), dev) {
			continue
		}
		if parker == nil || betterParker(o, parker, c.lastBridge) {
			parker = o
		}
	}
	if parker == nil {
		return
	}
	m.emit(bridge.Event{Kind: bridge.BlindTransfer, Time: r.Time, Channel: bridge.Channel{ID: parker.id, Name: parker.name},
		Peer: bridge.Channel{ID: c.id, Name: c.name}})
}

// betterParker orders the channels a parker dial string could name: the
// one sharing the parked call's bridge, then the oldest, then by id, so the
// choice does not depend on map order.
func betterParker(a, b *chanState, bridgeID string) bool {
	ab, bb := a.bridge != "" && a.bridge == bridgeID, b.bridge != "" && b.bridge == bridgeID
	if ab != bb {
		return ab
	}
	if !a.first.Equal(b.first) {
		return a.first.Before(b.first)
	}
	return a.id < b.id
}
