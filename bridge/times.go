package bridge

import "time"

// startedAt is when the activity began: outbound, when the user's leg was
// created; inbound, when the user's phone first rang, or was offered the
// call if it never rang (busy, unreachable).
func (l *userLeg) startedAt() time.Time {
	if l.dir == Outbound {
		return l.started
	}
	var start time.Time
	for _, c := range l.chans {
		t := c.ringAt
		if t.IsZero() || (!c.offeredAt.IsZero() && t.Before(c.offeredAt)) {
			t = c.offeredAt
		}
		if !t.IsZero() && (start.IsZero() || t.Before(start)) {
			start = t
		}
	}
	if start.IsZero() {
		return l.started
	}
	return start
}

// end is when the user's part ended: the last of its channels hanging up
// or left alone in its bridge by the other party, or the moment the user
// transferred the call away (or went back from a consultation) if that
// came first.
func (l *userLeg) end() time.Time {
	var end time.Time
	for _, c := range l.chans {
		t := c.endAt
		if !c.aloneAt.IsZero() && (t.IsZero() || c.aloneAt.Before(t)) {
			t = c.aloneAt
		}
		if t.IsZero() {
			continue
		}
		if t.After(end) {
			end = t
		}
	}
	for _, t := range []time.Time{l.transferAt, l.leftAt} {
		if !t.IsZero() && (end.IsZero() || t.Before(end)) {
			end = t
		}
	}
	if end.Before(l.answered) {
		end = l.answered
	}
	if end.Before(l.started) {
		end = l.started
	}
	return end
}

func seconds(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}
