package bridge

import (
	"regexp"
	"sort"
	"time"
)

// Config tells the engine who is who. It is read once, at New.
type Config struct {
	// Source names the adapter in activities: "ari", "ami", "sip".
	Source string
	// PBX namespaces activity ids when several PBXs feed one CRM.
	PBX string
	// Users is the user directory. When empty, any endpoint matching
	// ExtensionPattern is a user.
	Users []User
	// ExtensionPattern recognises users when Users is empty. Nil means
	// DefaultExtensionPattern.
	ExtensionPattern *regexp.Regexp
	// Trunks lists endpoints that are trunks: never users, always external.
	Trunks []string
	// Privacy classifies calls by what every source sees (the number
	// dialled, the remote number), for dialplans that do not set
	// CALLBRIDGE_PRIVACY and sources that cannot see it (SIP).
	Privacy PrivacyRules
	// ShowForwarded also reports the activity of a user whose phone
	// forwarded the call (reason forwarded), as `replay --all` does; by
	// default such a user has none.
	ShowForwarded bool
}

// Stats counts what the engine holds and what it passed over.
type Stats struct {
	Calls    int // calls in progress
	Channels int // channels alive
	Ignored  int // events about channels the engine did not know, or of unknown kinds
	// Linked is how many of the source's linked ids (AMI's linkedid) the
	// engine remembers: one for each call in progress that has any.
	Linked int
}

// Engine turns events into transitions and activities. It is not safe for
// concurrent use: one goroutine feeds it, in the order the source emitted.
type Engine struct {
	cfg      Config
	users    map[string]*User // by endpoint name
	pattern  *regexp.Regexp
	patUsers map[string]*User // users made up from the pattern, by endpoint
	mobiles  map[string]*User // by the number's last mobileDigits digits
	trunks   map[string]bool

	chans   chanTable
	bridges map[string][]*channel
	locals  map[string]*[2]*channel // Local pair name -> halves ;1 and ;2
	linked  map[string]*call        // source linked ids
	calls   int
	live    int
	ignored int
	last    time.Time // newest event time seen
	// zones are the locations of the times stamps keep, odd and oddIndex
	// the times they cannot (see stamp).
	zones    []*time.Location
	odd      []time.Time
	oddIndex map[time.Time]int

	out []Transition
}

// New returns an engine for cfg.
func New(cfg Config) *Engine {
	e := &Engine{
		cfg:      cfg,
		users:    make(map[string]*User),
		patUsers: make(map[string]*User),
		mobiles:  make(map[string]*User),
		trunks:   make(map[string]bool),
		bridges:  make(map[string][]*channel),
		locals:   make(map[string]*[2]*channel),
		linked:   make(map[string]*call),
		pattern:  cfg.ExtensionPattern,
	}
	if e.pattern == nil {
		e.pattern = DefaultExtensionPattern
	}
	for i := range cfg.Users {
		u := &cfg.Users[i]
		e.users[u.Extension] = u
		for _, ep := range u.Endpoints {
			e.users[ep] = u
		}
		for _, m := range u.Mobiles {
			if k := mobileKey(m); k != "" {
				e.mobiles[k] = u
			}
		}
	}
	for _, t := range cfg.Trunks {
		e.trunks[t] = true
	}
	return e
}

// Knows reports whether the engine still holds channel id: it is alive, or
// belongs to a call that is not over. A journal of events can be compacted
// to the events that mention such channels; replaying those rebuilds the
// same calls.
func (e *Engine) Knows(id string) bool { return id != "" && e.chans.get(id) != nil }

// OpenCalls lists the ids of the calls in progress, sorted. A call's id is
// the one its activities will carry, unless it later merges with a call
// that began earlier (a transfer), whose id it then takes.
func (e *Engine) OpenCalls() []string {
	seen := map[string]bool{}
	for c := range e.chans.all() {
		if !c.is(fGone) {
			seen[c.callRoot().id] = true
		}
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Stats reports what the engine holds.
func (e *Engine) Stats() Stats {
	return Stats{Calls: e.calls, Channels: e.live, Ignored: e.ignored, Linked: len(e.linked)}
}

// Apply feeds one event and returns what it changed: live transitions and,
// when a call ends, its users' finished activities. The returned slice is
// the caller's.
func (e *Engine) Apply(ev Event) []Transition { return e.ApplyAppend(nil, ev) }

// ApplyAppend is Apply appending to out, so that a caller that is done
// with the transitions before the next event can reuse one slice.
func (e *Engine) ApplyAppend(out []Transition, ev Event) []Transition {
	e.out = out
	if ev.Time.After(e.last) {
		e.last = ev.Time
	}
	switch ev.Kind {
	case ChannelCreated:
		e.created(ev)
	case ChannelUpdated:
		if c := e.known(ev.Time, &ev.Channel); c != nil {
			e.update(c, &ev.Channel, ev.Time)
		}
	case Dial:
		e.dial(ev)
	case BridgeEnter:
		if c := e.known(ev.Time, &ev.Channel); c != nil {
			e.enter(c, ev.Bridge, ev.Conference, ev.Time)
		}
	case BridgeLeave:
		if c := e.chans.get(ev.Channel.ID); c != nil {
			e.leave(c, ev.Time)
		} else {
			e.ignored++
		}
	case BlindTransfer:
		e.blindTransfer(ev)
	case AttendedTransfer:
		e.attendedTransfer(ev)
	case VarSet:
		e.varSet(ev)
	case HangupRequest:
		e.hangupRequest(ev)
	case ChannelDestroyed:
		if c := e.chans.get(ev.Channel.ID); c != nil && !c.is(fGone) {
			e.destroy(c, ev.Cause, ev.Time)
		} else {
			e.ignored++
		}
	case Snapshot:
		e.snapshot(ev)
	case DTMF:
		if c := e.chans.get(ev.Channel.ID); c != nil && !c.is(fGone) {
			e.keyed(c)
		} else {
			e.ignored++
		}
	default:
		e.ignored++
	}
	e.forgetOdd()
	out, e.out = e.out, nil
	return out
}

// Flush ends every call still open as of at (end of a replay) and returns
// their activities. Channels are closed in id order so the result does not
// depend on map order.
func (e *Engine) Flush(at time.Time) []Transition {
	e.out = nil
	ids := make([]string, 0, e.chans.len())
	for c := range e.chans.all() {
		if !c.is(fGone) {
			ids = append(ids, c.id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		if c := e.chans.get(id); c != nil && !c.is(fGone) {
			e.destroy(c, 0, at)
		}
	}
	e.forgetOdd()
	return e.out
}
