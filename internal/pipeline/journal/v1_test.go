package journal

import (
	"encoding/binary"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// The encoder of version 1, as callbridge wrote it before version 2: the
// tests write version 1 journals with it to show they still replay.

// appendRecordV1 appends ev's frame to b.
func appendRecordV1(b []byte, ev *bridge.Event) []byte {
	start := len(b)
	b = append(b, make([]byte, frameLen)...)
	b = append(b, byte(ev.Kind))
	b = appendTimeV1(b, ev.Time)
	b = appendChannelV1(b, &ev.Channel)
	b = appendChannelV1(b, &ev.Peer)
	b = appendString(b, ev.DialStatus)
	b = appendString(b, ev.DialString)
	b = appendString(b, ev.Forward)
	b = appendString(b, ev.Bridge)
	b = appendBool(b, ev.Conference)
	b = appendString(b, ev.Second)
	b = appendString(b, ev.Target)
	b = appendString(b, ev.Exten)
	b = appendString(b, ev.Context)
	b = appendString(b, ev.Var)
	b = appendString(b, ev.Value)
	b = binary.AppendVarint(b, int64(ev.Cause))
	b = appendTimeV1(b, ev.Listed)
	b = binary.AppendUvarint(b, uint64(len(ev.Channels)))
	for i := range ev.Channels {
		// Each channel length-prefixed, so compaction can splice them.
		at := len(b)
		b = append(b, 0, 0, 0, 0)
		b = appendChannelV1(b, &ev.Channels[i])
		binary.LittleEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	}
	seal(b[start:])
	return b
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendTimeV1(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, timeZero)
	}
	_, off := t.Zone()
	if off == 0 {
		b = append(b, timeUTC)
	} else {
		b = append(b, timeOffset)
		b = binary.AppendVarint(b, int64(off))
	}
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendChannelV1(b []byte, c *bridge.Channel) []byte {
	if *c == (bridge.Channel{}) {
		return append(b, 0) // most events have no peer
	}
	b = append(b, 1)
	b = appendString(b, c.ID)
	b = appendString(b, c.Name)
	b = appendString(b, c.Endpoint)
	b = appendString(b, c.LinkedID)
	b = append(b, byte(c.State))
	b = appendString(b, c.CallerNumber)
	b = appendString(b, c.CallerName)
	b = appendString(b, c.ConnectedNumber)
	b = appendString(b, c.ConnectedName)
	b = appendString(b, c.Exten)
	b = appendString(b, c.Context)
	b = appendString(b, c.App)
	b = appendTimeV1(b, c.Created)
	b = appendString(b, c.Bridge)
	b = appendTimeV1(b, c.Bridged)
	return appendBool(b, c.Conference)
}
