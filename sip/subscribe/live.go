package subscribe

import (
	"sort"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// live turns the dialog-info documents of each monitored extension into
// live transitions. It remembers, per (extension, dialog id), the last
// state it reported, so a state is reported once however often the PBX
// repeats it, and what it learnt earlier (direction, remote party, call
// id) when a later document leaves it out: Asterisk names the caller only
// while the phone rings.
//
// live is not safe for concurrent use.
type live struct {
	subs    map[string]*subVersion // by extension
	dialogs map[dialogKey]*liveDialog
}

type subVersion struct {
	seen    bool
	version uint64
}

type dialogKey struct{ ext, id string }

type liveDialog struct {
	state     bridge.LiveState
	direction bridge.Direction
	number    string
	name      string
	callID    string
}

// maxLiveDialogs bounds the dialogs remembered across all extensions, so
// a notifier that opens dialogs in partial documents and never ends them
// cannot grow memory without limit.
const maxLiveDialogs = 8192

// verdict says what became of a document.
type verdict int

const (
	applied verdict = iota
	stale           // version not newer than one already applied
)

func newLive() *live {
	return &live{subs: make(map[string]*subVersion), dialogs: make(map[dialogKey]*liveDialog)}
}

// newSubscription forgets the version of ext's documents: RFC 4235 counts
// versions per subscription, so a fresh one may start again from 0. What
// is known of the dialogs is kept; the first full document of the new
// subscription brings it up to date without repeating unchanged states.
func (l *live) newSubscription(ext string) {
	delete(l.subs, ext)
}

// apply takes one document received for ext at time at and returns the
// transitions it causes, in document order, then dialogs a full document
// no longer lists (as ended), by id.
func (l *live) apply(ext string, info *Info, at time.Time) ([]bridge.Transition, verdict) {
	sv := l.subs[ext]
	if sv == nil {
		sv = &subVersion{}
		l.subs[ext] = sv
	}
	if sv.seen && info.Version <= sv.version {
		return nil, stale
	}
	sv.seen, sv.version = true, info.Version

	var out []bridge.Transition
	var listed map[string]bool
	if info.State == Full {
		listed = make(map[string]bool, len(info.Dialogs))
	}
	for _, d := range info.Dialogs {
		if listed != nil {
			listed[d.ID] = true
		}
		if tr, ok := l.dialog(ext, d, at); ok {
			out = append(out, tr)
		}
	}
	if listed != nil {
		var gone []string
		for k, d := range l.dialogs {
			if k.ext == ext && !listed[k.id] && d.state != "" {
				gone = append(gone, k.id)
			}
		}
		sort.Strings(gone)
		for _, id := range gone {
			k := dialogKey{ext, id}
			out = append(out, l.dialogs[k].transition(ext, bridge.HungUp, at))
			delete(l.dialogs, k)
		}
	}
	return out, applied
}

// dialog updates one dialog and returns its transition, if any.
func (l *live) dialog(ext string, d Dialog, at time.Time) (bridge.Transition, bool) {
	k := dialogKey{ext, d.ID}
	cur := l.dialogs[k]
	var next bridge.LiveState
	switch d.State {
	case Early:
		next = bridge.Ringing
	case Trying, Proceeding:
		// Only an offered call rings the user; a call the user is
		// placing has nothing to pop until it is answered.
		if d.Direction != Recipient {
			return bridge.Transition{}, false
		}
		next = bridge.Ringing
	case Confirmed:
		next = bridge.Talking
	case Terminated:
		if cur == nil {
			// Idle, or a call that ended before we heard of it:
			// Asterisk reports an idle extension this way.
			return bridge.Transition{}, false
		}
		cur.learn(d)
		delete(l.dialogs, k)
		return cur.transition(ext, bridge.HungUp, at), true
	default:
		return bridge.Transition{}, false
	}
	if cur == nil {
		if len(l.dialogs) >= maxLiveDialogs {
			return bridge.Transition{}, false
		}
		cur = &liveDialog{}
		l.dialogs[k] = cur
	}
	cur.learn(d)
	if cur.state == next {
		return bridge.Transition{}, false
	}
	cur.state = next
	return cur.transition(ext, next, at), true
}

// learn keeps what d tells, leaving what it omits as it was.
func (ld *liveDialog) learn(d Dialog) {
	switch d.Direction {
	case Recipient:
		ld.direction = bridge.Inbound
	case Initiator:
		ld.direction = bridge.Outbound
	}
	if n := d.Remote.Number(); n != "" {
		ld.number = n
	}
	if d.Remote.Display != "" {
		ld.name = d.Remote.Display
	}
	if d.CallID != "" {
		ld.callID = d.CallID
	}
}

func (ld *liveDialog) transition(ext string, s bridge.LiveState, at time.Time) bridge.Transition {
	return bridge.Transition{
		Time:         at,
		CallID:       ld.callID,
		User:         ext,
		State:        s,
		Direction:    ld.direction,
		RemoteNumber: ld.number,
		RemoteName:   ld.name,
	}
}
