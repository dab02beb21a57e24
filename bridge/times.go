package bridge

import (
	"math"
	"time"
)

// stamp is a time as the engine keeps it in its per-call state: 12 bytes
// where a time.Time takes 24, and every channel holds five.
// It is the instant in nanoseconds since 1970 and the time's location as
// an index in the engine's list of them, so the time read back (Engine.at)
// is the one stored, location and all: what the engine reports is what its
// events said. A time outside 1678–2262, or with a monotonic reading, is
// kept whole in the engine's list of odd times instead.
type stamp struct {
	// ns is the nanoseconds, or for an odd time its index in Engine.odd,
	// in two halves so that a stamp needs no 8-byte alignment: 12 bytes,
	// not 16.
	ns   [2]uint32
	zone uint16 // 0: UTC; else Engine.zones[zone-1]
	kind stampKind
}

type stampKind uint8

const (
	stampZero    stampKind = iota // the zero time
	stampSet                      // ns and zone
	stampOdd                      // Engine.odd[ns]
	stampOddZero                  // the same, a time that IsZero (the zero instant in a zone)
)

func (s stamp) isZero() bool { return s.kind == stampZero || s.kind == stampOddZero }

func (s stamp) n() int64 { return int64(uint64(s.ns[0]) | uint64(s.ns[1])<<32) }

func withN(n int64, zone uint16, kind stampKind) stamp {
	return stamp{ns: [2]uint32{uint32(n), uint32(uint64(n) >> 32)}, zone: zone, kind: kind}
}

// firstStamp and lastStamp bound the times a stamp holds itself.
var (
	firstStamp = time.Unix(0, math.MinInt64)
	lastStamp  = time.Unix(0, math.MaxInt64)
)

// stamp is how t is kept.
func (e *Engine) stamp(t time.Time) stamp {
	if t == (time.Time{}) {
		return stamp{}
	}
	if t.After(firstStamp) && t.Before(lastStamp) && t == t.Round(0) {
		if z, ok := e.zoneOf(t); ok {
			return withN(t.UnixNano(), z, stampSet)
		}
	}
	kind := stampOdd
	if t.IsZero() {
		kind = stampOddZero
	}
	if i, ok := e.oddIndex[t]; ok {
		return withN(int64(i), 0, kind)
	}
	if e.oddIndex == nil {
		e.oddIndex = make(map[time.Time]int)
	}
	e.oddIndex[t] = len(e.odd)
	e.odd = append(e.odd, t)
	return withN(int64(len(e.odd)-1), 0, kind)
}

// at is the time s keeps.
func (e *Engine) at(s stamp) time.Time {
	switch s.kind {
	case stampZero:
		return time.Time{}
	case stampSet:
		t := time.Unix(0, s.n())
		if s.zone == 0 {
			return t.UTC()
		}
		return t.In(e.zones[s.zone-1])
	}
	return e.odd[s.n()]
}

// zoneOf is the index of t's location in e.zones, adding it if need be.
// Sources give few locations (UTC, Local, the PBX's offset), but a fixed
// zone may come as a new *time.Location with every event (time.Parse of
// an offset Local does not have): one that reads the same as a fixed zone
// already listed (name, abbreviation, offset, for all time) is taken as
// that one, as the journal does with the offsets it reads back.
func (e *Engine) zoneOf(t time.Time) (uint16, bool) {
	loc := t.Location()
	if loc == time.UTC {
		return 0, true
	}
	for i, z := range e.zones {
		if z == loc {
			return uint16(i + 1), true
		}
	}
	name, off := t.Zone()
	if start, end := t.ZoneBounds(); start.IsZero() && end.IsZero() {
		for i, z := range e.zones {
			zt := t.In(z)
			if zs, ze := zt.ZoneBounds(); z.String() == loc.String() && zs.IsZero() && ze.IsZero() {
				if zn, zo := zt.Zone(); zn == name && zo == off {
					return uint16(i + 1), true
				}
			}
		}
	}
	if len(e.zones) >= math.MaxUint16 {
		return 0, false
	}
	e.zones = append(e.zones, loc)
	return uint16(len(e.zones)), true
}

// forgetOdd drops the odd times once nothing can hold their stamps: no
// channel, call or link is left. Sources give no such times; events that
// do keep them for no longer than their calls overlap.
func (e *Engine) forgetOdd() {
	if len(e.odd) > 0 && e.chans.len() == 0 && len(e.linked) == 0 && len(e.bridges) == 0 && len(e.locals) == 0 {
		e.odd, e.oddIndex = nil, nil
	}
}

// startedAt is when the activity began: outbound, when the user's leg was
// created; inbound, when the user's phone first rang, or was offered the
// call if it never rang (busy, unreachable).
func (e *Engine) startedAt(l *userLeg) time.Time {
	if l.outbound {
		return e.at(l.started)
	}
	var start time.Time
	for _, c := range l.chans {
		t := e.at(c.ringAt)
		if offered := e.at(c.offeredAt); t.IsZero() || (!offered.IsZero() && t.Before(offered)) {
			t = offered
		}
		if !t.IsZero() && (start.IsZero() || t.Before(start)) {
			start = t
		}
	}
	if start.IsZero() {
		return e.at(l.started)
	}
	return start
}

// end is when the user's part ended: the last of its channels hanging up
// or left alone in its bridge by the other party, or the moment the user
// transferred the call away (or went back from a consultation) if that
// came first.
func (e *Engine) end(l *userLeg) time.Time {
	var end time.Time
	for _, c := range l.chans {
		t := e.at(c.endAt)
		if alone := e.at(c.aloneAt()); !alone.IsZero() && (t.IsZero() || alone.Before(t)) {
			t = alone
		}
		if t.IsZero() {
			continue
		}
		if t.After(end) {
			end = t
		}
	}
	for _, t := range []time.Time{e.at(l.transferAt()), e.at(l.leftAt())} {
		if !t.IsZero() && (end.IsZero() || t.Before(end)) {
			end = t
		}
	}
	if answered := e.at(l.answered); end.Before(answered) {
		end = answered
	}
	if started := e.at(l.started); end.Before(started) {
		end = started
	}
	return end
}

func seconds(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}
