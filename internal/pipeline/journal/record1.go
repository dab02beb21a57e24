package journal

import (
	"encoding/binary"

	"github.com/callbridge/callbridge/bridge"
)

// Version 1 of the file format, read to replay a journal written by an
// earlier callbridge (which is then rewritten in version 2). Its records
// have the same frame as version 2's; the payload is one event's fields in
// the order of bridge.Event, strings and counts as uvarints before their
// bytes, times as version 2's (no milliseconds), every channel in full
// (a byte 0 for the empty channel, 1 and its fields), the snapshot's
// channels last, each after a uint32 LE length.

// decodeV1 decodes a payload of version 1 into ev.
func decodeV1(payload []byte, ev *bridge.Event) error {
	d := decoder{p: payload, v1: true}
	*ev = bridge.Event{}
	if len(payload) > 0 && bridge.Kind(payload[0]) != bridge.Snapshot {
		d.s = string(payload)
	}
	ev.Kind = bridge.Kind(d.byte())
	ev.Time = d.time()
	d.channelV1(&ev.Channel)
	d.channelV1(&ev.Peer)
	ev.DialStatus = d.string()
	ev.DialString = d.string()
	ev.Forward = d.string()
	ev.Bridge = d.string()
	ev.Conference = d.bool()
	ev.Second = d.string()
	ev.Target = d.string()
	ev.Exten = d.string()
	ev.Context = d.string()
	ev.Var = d.string()
	ev.Value = d.string()
	ev.Cause = int(d.varint())
	ev.Listed = d.time()
	n := d.uvarint()
	if d.err == nil && n > uint64(len(payload)-d.i)/5 { // a channel takes 5 bytes at least
		d.err = errBad
	}
	if d.err == nil && n > 0 {
		ev.Channels = make([]bridge.Channel, n)
	}
	for i := range ev.Channels {
		size := d.fixed32()
		end := d.i + int(size)
		d.channelV1(&ev.Channels[i])
		if d.err == nil && d.i != end {
			d.err = errBad
		}
		if d.err != nil {
			break
		}
	}
	if d.err == nil && d.i != len(payload) {
		d.err = errBad
	}
	return d.err
}

func (d *decoder) fixed32() uint32 {
	if d.err != nil || len(d.p)-d.i < 4 {
		d.err = errBad
		return 0
	}
	v := binary.LittleEndian.Uint32(d.p[d.i:])
	d.i += 4
	return v
}

func (d *decoder) channelV1(c *bridge.Channel) {
	switch d.byte() {
	case 0:
		return
	case 1:
	default:
		d.err = errBad
		return
	}
	c.ID = d.string()
	c.Name = d.string()
	c.Endpoint = d.string()
	c.LinkedID = d.string()
	c.State = bridge.ChannelState(d.byte())
	c.CallerNumber = d.string()
	c.CallerName = d.string()
	c.ConnectedNumber = d.string()
	c.ConnectedName = d.string()
	c.Exten = d.string()
	c.Context = d.string()
	c.App = d.string()
	c.Created = d.time()
	c.Bridge = d.string()
	c.Bridged = d.time()
	c.Conference = d.bool()
	if d.err == nil && *c == (bridge.Channel{}) {
		d.err = errBad // the empty channel has its own flag
	}
}
