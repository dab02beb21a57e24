package journal

import (
	"encoding/binary"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// Channel deltas and times, as version 2 writes them (encode.go).

func appendChannel(b []byte, ch *bridge.Channel, d *described, m uint64) []byte {
	if d == nil {
		b = append(b, chFull)
		m, _ := diff("", nil, ch)
		return appendDelta(b, m, ch, nil)
	}
	b = append(b, chRef)
	b = binary.AppendUvarint(b, uint64(d.h))
	return appendDelta(b, m, ch, nil)
}

// diff is which fields of ch differ from base's, and the bytes of a delta
// giving them; base a description in memory (canon.go) read with w's
// words, or "" (the empty channel). Times are compared by their bytes,
// which tell instant and offset (see appendTime), as a replay would see
// them.
func diff(base string, w *wordList, ch *bridge.Channel) (m uint64, n int) {
	r := reader{s: base, w: w}
	if len(base) > 0 {
		r.m = r.uvarint()
	}
	r.str(chID, ch.ID)
	r.str(chName, ch.Name)
	r.str(chEndpoint, ch.Endpoint)
	r.str(chLinkedID, ch.LinkedID)
	var state byte
	if r.m&chState != 0 {
		state = r.byte()
	}
	if byte(ch.State) != state {
		r.d |= chState
		r.n++
	}
	r.str(chCallerNumber, ch.CallerNumber)
	r.str(chCallerName, ch.CallerName)
	r.str(chConnectedNumber, ch.ConnectedNumber)
	r.str(chConnectedName, ch.ConnectedName)
	r.str(chExten, ch.Exten)
	r.str(chContext, ch.Context)
	r.str(chApp, ch.App)
	r.time(chCreated, ch.Created)
	r.str(chBridge, ch.Bridge)
	r.time(chBridged, ch.Bridged)
	if ch.Conference != (r.m&chConference != 0) {
		r.d |= chConference
	}
	return r.d, r.n + uvarintLen(r.d)
}

// reader reads a description in memory (so it needs no checks), noting
// which fields differ from a channel's.
type reader struct {
	s string
	w *wordList
	// word and rest are the string field read last (canon.go)
	word, rest string
	i          int
	m          uint64 // the fields s has
	d          uint64 // the fields that differ
	n          int    // their bytes in a delta, less the mask's
}

func (r *reader) uvarint() uint64 {
	var v uint64
	for shift := 0; ; shift += 7 {
		c := r.s[r.i]
		r.i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
}

func (r *reader) byte() byte {
	r.i++
	return r.s[r.i-1]
}

func (r *reader) string() string {
	n := int(r.uvarint())
	r.i += n
	return r.s[r.i-n : r.i]
}

// str reads the field bit, a string, if s has it, and notes whether it
// differs from v.
func (r *reader) str(bit uint64, v string) {
	same := v == ""
	switch {
	case r.m&bit == 0:
	case r.s[r.i]&0x81 == 0: // a string of its own under 64 bytes: most are
		n := int(r.s[r.i] >> 1)
		r.i += 1 + n
		r.word, r.rest = "", r.s[r.i-n:r.i]
		same = r.rest == v
	default:
		same = r.field(v)
	}
	if !same {
		r.d |= bit
		r.n += uvarintLen(uint64(len(v))) + len(v)
	}
}

// time reads the field bit, a time, if s has it, and notes whether its
// bytes differ from v's.
func (r *reader) time(bit uint64, v time.Time) {
	var buf [24]byte
	if r.m&bit == 0 {
		if !v.IsZero() {
			r.d |= bit
			r.n += len(appendTime(buf[:0], v))
		}
		return
	}
	start := r.i
	switch r.byte() {
	case timeUTC:
		r.uvarint()
		r.uvarint()
	case timeOffset:
		r.uvarint()
		r.uvarint()
		r.uvarint()
	case timeUTCMilli:
		r.uvarint()
	case timeOffMilli:
		r.uvarint()
		r.uvarint()
	}
	now := appendTime(buf[:0], v)
	if v.IsZero() {
		now = now[:0]
	}
	if r.s[start:r.i] != string(now) {
		r.d |= bit
		r.n += max(len(now), 1) // the zero time: its tag
	}
}

// appendDelta appends the fields m names of ch, after m: its times from
// the time of from, if not nil (a description's own).
func appendDelta(b []byte, m uint64, ch *bridge.Channel, from *described) []byte {
	b = binary.AppendUvarint(b, m)
	b = appendIf(b, m&chID, ch.ID)
	b = appendIf(b, m&chName, ch.Name)
	b = appendIf(b, m&chEndpoint, ch.Endpoint)
	b = appendIf(b, m&chLinkedID, ch.LinkedID)
	if m&chState != 0 {
		b = append(b, byte(ch.State))
	}
	b = appendIf(b, m&chCallerNumber, ch.CallerNumber)
	b = appendIf(b, m&chCallerName, ch.CallerName)
	b = appendIf(b, m&chConnectedNumber, ch.ConnectedNumber)
	b = appendIf(b, m&chConnectedName, ch.ConnectedName)
	b = appendIf(b, m&chExten, ch.Exten)
	b = appendIf(b, m&chContext, ch.Context)
	b = appendIf(b, m&chApp, ch.App)
	if m&chCreated != 0 {
		b = appendTimeFrom(b, ch.Created, from)
	}
	b = appendIf(b, m&chBridge, ch.Bridge)
	if m&chBridged != 0 {
		b = appendTimeFrom(b, ch.Bridged, from)
	}
	return b
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Time tags: what a time decodes to is what a JSON journal gave (an
// RFC 3339 offset of zero is UTC; another offset is the local zone when it
// has that offset then, else a fixed zone), so the engine sees the same.
// A time in whole milliseconds, as a PBX reports them, is given in those.
const (
	timeZero     = 0
	timeUTC      = 1 // seconds and nanoseconds
	timeOffset   = 2 // the offset, seconds and nanoseconds
	timeUTCMilli = 3 // milliseconds
	timeOffMilli = 4 // the offset, milliseconds
	// timeSince: milliseconds since the time of the description the
	// event's Channel refers to (for the event's Time), or the
	// description's own (for its channel's times), or, for a
	// description's time, the one's before.
	timeSince = 5
)

// milliRange bounds the seconds given in milliseconds, far from overflow.
const milliRange = 1 << 50

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, timeZero)
	}
	_, off := t.Zone()
	sec, ns := t.Unix(), int64(t.Nanosecond())
	milli := ns%1e6 == 0 && sec > -milliRange && sec < milliRange
	tag := byte(timeUTC)
	if off != 0 {
		tag = timeOffset
	}
	if milli {
		tag += 2
	}
	b = append(b, tag)
	if off != 0 {
		b = binary.AppendVarint(b, int64(off))
	}
	if milli {
		return binary.AppendVarint(b, sec*1000+ns/1e6)
	}
	b = binary.AppendVarint(b, sec)
	return binary.AppendUvarint(b, uint64(ns))
}

// appendSince appends t, ms in milliseconds (milli's), as milliseconds
// since at, if they are not too many.
func appendSince(b []byte, t time.Time, ms, at int64) []byte {
	if ms-at <= -milliRange || ms-at >= milliRange {
		return appendTime(b, t)
	}
	b = append(b, timeSince)
	return binary.AppendVarint(b, ms-at)
}

// appendTimeFrom appends t, from the time of d when that can be done.
func appendTimeFrom(b []byte, t time.Time, d *described) []byte {
	if d != nil && d.hasAt() {
		if ms, ok := milli(t); ok {
			return appendSince(b, t, ms, d.at)
		}
	}
	return appendTime(b, t)
}

// milli is t in Unix milliseconds, if it is UTC in whole milliseconds.
func milli(t time.Time) (int64, bool) {
	if t.IsZero() || t.Nanosecond()%1e6 != 0 || t.Unix() <= -milliRange || t.Unix() >= milliRange {
		return 0, false
	}
	if _, off := t.Zone(); off != 0 {
		return 0, false
	}
	return t.UnixMilli(), true
}
