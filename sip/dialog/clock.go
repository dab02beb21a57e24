package dialog

import (
	"fmt"
	"slices"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// clock is the tracker's time for timeouts, taken from capture times only.
// It is the latest time seen in any dialog but the one furthest ahead: a
// time must be seen in two dialogs before it can end anyone's call for
// silence, so one packet stamped with a wrong clock (a capture agent's
// clock jumping, a forged packet) can give wrong times to its own dialog
// at worst, never to the others.
type clock struct {
	id1, id2 string    // the two dialogs furthest ahead, id1 first
	t1, t2   time.Time // their latest times
}

// see records that dialog id (a Call-ID) had a message at t.
func (k *clock) see(id string, t time.Time) {
	switch {
	case id == k.id1:
		if t.After(k.t1) {
			k.t1 = t
		}
	case t.After(k.t1):
		if k.id1 != "" {
			k.id2, k.t2 = k.id1, k.t1
		}
		k.id1, k.t1 = id, t
	case id == k.id2 || t.After(k.t2):
		if id == k.id2 && !t.After(k.t2) {
			return
		}
		k.id2, k.t2 = id, t
	}
}

// now is the confirmed time: the second dialog's, or the only one's.
func (k *clock) now() time.Time {
	if k.id2 == "" {
		return k.t1
	}
	return k.t2
}

// latest is the latest time of any dialog: the reference new dialogs are
// judged against.
func (k *clock) latest() time.Time { return k.t1 }

// plausible refuses capture times no message of an open dialog can have:
// before the dialog began, or more than MaxIdle after its last message
// (the dialog would have timed out). Such a time is the sender's clock
// going wrong; taking it would give the call times from nowhere.
func (t *Tracker) plausible(l *leg, at time.Time) error {
	switch {
	case l.ch.Created.Sub(at) > 32*time.Second:
		return fmt.Errorf("%w: %s is before its dialog began", ErrTime, at.Format(time.RFC3339))
	case at.Sub(l.lastSeen) > t.cfg.MaxIdle:
		return fmt.Errorf("%w: %s is %s after its dialog's last message", ErrTime, at.Format(time.RFC3339), at.Sub(l.lastSeen).Round(time.Second))
	}
	return nil
}

// near: at is within MaxIdle of the latest time seen (or nothing was seen).
func (t *Tracker) near(at time.Time) bool {
	ref := t.clock.latest()
	d := at.Sub(ref)
	return ref.IsZero() || (d <= t.cfg.MaxIdle && d >= -t.cfg.MaxIdle)
}

// Suspects. A new dialog whose time is more than MaxIdle from every time
// seen so far is either real (the next day of a capture, a PBX whose
// clock was set) or a copy of a real message with a broken timestamp,
// which, taken first, would stand in for the real dialog. Such a dialog
// waits, with the messages of its own that follow at about its time,
// until a second one comes (a real dialog always has a response): then
// it is tracked. A message of the same Call-ID near the clock shows the
// waiting ones were strays; they are dropped and counted as bad times.
type suspects struct {
	byCallID map[string][]*suspectDialog
	order    []*suspectDialog
}

type suspectDialog struct {
	callID string
	at     time.Time
	msgs   []*parsed
}

const maxSuspects = 256

// held deals with a message that belongs to no tracked dialog but may
// belong to a waiting one; it reports whether it took the message.
func (t *Tracker) held(p *parsed, newDialog bool, out func(bridge.Event)) bool {
	if t.promoting {
		return false
	}
	at := p.m.Time
	for _, sd := range slices.Clone(t.suspects.byCallID[p.callID]) {
		if d := at.Sub(sd.at); d <= t.cfg.MaxIdle && d >= -t.cfg.MaxIdle {
			p.m.Payload, p.kept = nil, true
			sd.msgs = append(sd.msgs, p)
			t.promote(sd, out)
			return true
		}
	}
	if t.near(at) {
		if sds := t.suspects.byCallID[p.callID]; len(sds) > 0 {
			for _, sd := range slices.Clone(sds) {
				t.stats.BadTime += len(sd.msgs)
				t.suspects.drop(sd)
			}
		}
		return false
	}
	if !newDialog {
		return false
	}
	if len(t.suspects.order) >= maxSuspects {
		old := t.suspects.order[0]
		t.stats.BadTime += len(old.msgs)
		t.suspects.drop(old)
	}
	p.m.Payload, p.kept = nil, true
	sd := &suspectDialog{callID: p.callID, at: at, msgs: []*parsed{p}}
	if t.suspects.byCallID == nil {
		t.suspects.byCallID = map[string][]*suspectDialog{}
	}
	t.suspects.byCallID[p.callID] = append(t.suspects.byCallID[p.callID], sd)
	t.suspects.order = append(t.suspects.order, sd)
	return true
}

// promote tracks a waiting dialog once a second message of it came; the
// other waiting versions of its Call-ID were strays.
func (t *Tracker) promote(sd *suspectDialog, out func(bridge.Event)) {
	if len(sd.msgs) < 2 {
		return
	}
	for _, o := range slices.Clone(t.suspects.byCallID[sd.callID]) {
		if o != sd {
			t.stats.BadTime += len(o.msgs)
		}
		t.suspects.drop(o)
	}
	t.promoting = true
	for _, m := range sd.msgs {
		_ = t.process(m, out)
	}
	t.promoting = false
}

func (s *suspects) drop(sd *suspectDialog) {
	ls := s.byCallID[sd.callID]
	if i := slices.Index(ls, sd); i >= 0 {
		ls = slices.Delete(ls, i, i+1)
	}
	if len(ls) == 0 {
		delete(s.byCallID, sd.callID)
	} else {
		s.byCallID[sd.callID] = ls
	}
	if i := slices.Index(s.order, sd); i >= 0 {
		s.order = slices.Delete(s.order, i, i+1)
	}
}

// dropSuspects forgets every waiting dialog (the end of the input): one
// message alone, far from every other time, was a stray.
func (t *Tracker) dropSuspects() {
	for _, sd := range t.suspects.order {
		t.stats.BadTime += len(sd.msgs)
	}
	t.suspects = suspects{}
}
