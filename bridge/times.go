package bridge

import (
	"math"
	"time"
)

// stamp is a time as the engine keeps it in its per-call state: 8 bytes
// where a time.Time takes 24, and every channel and user leg holds five.
// A positive stamp is a time in UTC after 1970 and before 2262 with no
// monotonic reading (what every source gives), as nanoseconds since 1970;
// 0 is the zero time. Any other time is kept whole in the engine's list of
// odd times, and its stamp is ^(2i+z) for entry i, z being 1 if the time
// IsZero. Either way the time read back (Engine.at) is the one stored,
// location and all, so what the engine reports is what its events said.
type stamp int64

// lastStamp is the first time after those a positive stamp holds.
var lastStamp = time.Unix(0, math.MaxInt64)

func (s stamp) isZero() bool { return s == 0 || s < 0 && ^s&1 == 1 }

// stamp is how t is kept.
func (e *Engine) stamp(t time.Time) stamp {
	if t.Location() == time.UTC && t.UnixNano() > 0 && t.Before(lastStamp) && t == t.Round(0) {
		return stamp(t.UnixNano())
	}
	if t == (time.Time{}) {
		return 0
	}
	if s, ok := e.oddStamps[t]; ok {
		return s
	}
	i := int64(len(e.odd)) * 2
	if t.IsZero() {
		i++
	}
	s := stamp(^i)
	e.odd = append(e.odd, t)
	if e.oddStamps == nil {
		e.oddStamps = make(map[time.Time]stamp)
	}
	e.oddStamps[t] = s
	return s
}

// at is the time s keeps.
func (e *Engine) at(s stamp) time.Time {
	switch {
	case s > 0:
		return time.Unix(0, int64(s)).UTC()
	case s == 0:
		return time.Time{}
	}
	return e.odd[^s>>1]
}

// forgetOdd drops the odd times once nothing can hold their stamps: no
// channel, call or link is left. Sources give times in UTC, so a
// running daemon has none; a replay of events in another zone keeps them
// for no longer than its calls overlap.
func (e *Engine) forgetOdd() {
	if len(e.odd) > 0 && len(e.chans) == 0 && len(e.linked) == 0 && len(e.bridges) == 0 && len(e.locals) == 0 {
		e.odd, e.oddStamps = nil, nil
	}
}

// startedAt is when the activity began: outbound, when the user's leg was
// created; inbound, when the user's phone first rang, or was offered the
// call if it never rang (busy, unreachable).
func (e *Engine) startedAt(l *userLeg) time.Time {
	if l.dir == Outbound {
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
		if alone := e.at(c.aloneAt); !alone.IsZero() && (t.IsZero() || alone.Before(t)) {
			t = alone
		}
		if t.IsZero() {
			continue
		}
		if t.After(end) {
			end = t
		}
	}
	for _, t := range []time.Time{e.at(l.transferAt), e.at(l.leftAt)} {
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
