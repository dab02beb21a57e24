package cards

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/phone"
	"github.com/callbridge/callbridge/internal/script"
)

// Event kinds, in the order a call usually gives them.
const (
	Offer     = "offer"     // a call for the agent appeared: the card, not yet open
	Open      = "open"      // open the card (its pop_url)
	Close     = "close"     // close it
	Connected = "connected" // the agent's call connected
	Ended     = "ended"     // the agent's part of the call ended
)

// kind is an event kind as emit takes it: an index into kinds and the
// metrics' counters.
type kind uint8

const (
	kindOffer kind = iota
	kindOpen
	kindClose
	kindConnected
	kindEnded
	nKinds
)

var kinds = [nKinds]string{Offer, Open, Close, Connected, Ended}

// Event is one thing a client is told about one call. Every event carries
// the whole card as it is then.
type Event struct {
	ID   uint64    `json:"id"`
	Kind string    `json:"event"`
	At   time.Time `json:"at"`
	Card Card      `json:"call"`
}

// Card is one call as the agent's desktop shows it.
type Card struct {
	CallID string `json:"call_id"`
	// Type is inbound, outbound, internal or manual (placed through
	// click-to-dial); Internal says the remote party is another user
	// (also for a manual call to a colleague).
	Type      string `json:"type"`
	Internal  bool   `json:"internal"`
	Direction string `json:"direction"`
	// State is ringing, connected or ended; Open whether the card is
	// open, as the server decided.
	State string `json:"state"`
	Open  bool   `json:"open"`
	// The remote party's number as presented, in E.164 and national form
	// (empty when it does not normalise), and the name the PBX gave.
	RemoteNumber   string `json:"remote_number"`
	RemoteE164     string `json:"remote_e164,omitempty"`
	RemoteNational string `json:"remote_national,omitempty"`
	RemoteName     string `json:"remote_name,omitempty"`
	// The number an external caller dialled, and its name (ddi_names).
	DDINumber   string `json:"ddi_number,omitempty"`
	DDINational string `json:"ddi_national,omitempty"`
	DDIName     string `json:"ddi_name,omitempty"`
	// The agent's device: their directory name and extension.
	DeviceName   string     `json:"device_name,omitempty"`
	DeviceNumber string     `json:"device_number"`
	StartedAt    time.Time  `json:"started_at"`
	ConnectedAt  *time.Time `json:"connected_at,omitempty"`
	EndedAt      *time.Time `json:"ended_at,omitempty"`
	// Records are the CRM records holding the number, best first, with
	// their configured fields and pages.
	Records []Record `json:"records"`
	// PopURL is what open opens: the rule's URL, the best record's page,
	// or (NewRecord) the CRM's form for a new record with the number.
	PopURL    string `json:"pop_url,omitempty"`
	NewRecord bool   `json:"new_record,omitempty"`
	Scripts   []Link `json:"scripts"`
}

// Record is one CRM record that holds the number.
type Record struct {
	Connector string            `json:"connector"`
	Entity    string            `json:"entity"`
	ID        string            `json:"id"`
	Name      string            `json:"name,omitempty"`
	Kind      string            `json:"type"`
	Exact     bool              `json:"exact"`
	Fields    map[string]string `json:"fields,omitempty"`
	URL       string            `json:"url,omitempty"`
}

// Link is one rendered script.
type Link struct {
	Connector string `json:"connector"`
	Name      string `json:"name"`
	URL       string `json:"url"`
}

// Finder looks numbers up in the CRMs' phone indexes, from memory.
type Finder interface {
	// Find returns the records of connector's index ("": the first
	// index) holding number, best first, only of entities when given.
	Find(connector, number string, entities []string) []Record
	// NewRecordURL is connector's form for a new entity record ("": its
	// first entity) with number, "" when it has none.
	NewRecordURL(connector, entity, number string) string
}

// Scripts are one connector's script templates.
type Scripts struct {
	Connector string
	Templates []*script.Template
}

// User is one user of the directory.
type User struct {
	Extension string
	Name      string
}

// Options are what an Engine is made from.
type Options struct {
	// Users is the directory; with none, Known accepts what Pattern
	// matches and users appear as their calls do.
	Users   []User
	Pattern func(extension string) bool
	// ScreenPop is a user's screen-pop settings (crmsync.PolicyConfig's
	// ScreenPopOf).
	ScreenPop func(user string) crmsync.UserScreenPop
	// Normalizer gives numbers' E.164 and national forms.
	Normalizer phone.Normalizer
	// DDIName names a dialled number (ddi_names); nil: none.
	DDIName func(ddi string) string
	Finder  Finder // nil: no CRM to search
	Scripts []Scripts
	Clock   Clock // nil: the wall clock
	// Buffer is how many events a stream may fall behind before it is
	// dropped (default 64); Retain how many recent events of each agent
	// a reconnecting client may ask for by Last-Event-ID (default 256).
	Buffer, Retain int
	Registerer     prometheus.Registerer // may be nil
}

// Engine holds every agent's cards. It is safe for concurrent use.
type Engine struct {
	opt   Options
	clock Clock
	users map[string]string // extension -> name, the directory
	seq   atomic.Uint64
	tmpl  sync.Map // rule URL -> *script.Template

	mu     sync.Mutex
	agents map[string]*agent
	placed map[string]placed // call id -> the click-to-dial call it is
	// numbers remembers numbers' forms (card.go).
	numbers map[string]numberForms

	m metrics
}

// placed is a call callbridge is placing for an agent.
type placed struct {
	user, number string
	internal     bool
	at           time.Time
}

// placedTTL bounds how long a click-to-dial call waits for its first
// transition: longer than any ring timeout.
const placedTTL = 10 * time.Minute

// New returns an engine.
func New(opt Options) *Engine {
	if opt.Clock == nil {
		opt.Clock = RealClock{}
	}
	if opt.Buffer <= 0 {
		opt.Buffer = 64
	}
	if opt.Retain <= 0 {
		opt.Retain = 256
	}
	if opt.ScreenPop == nil {
		def := crmsync.DefaultPolicyConfig()
		opt.ScreenPop = def.ScreenPopOf
	}
	e := &Engine{opt: opt, clock: opt.Clock, users: map[string]string{}, agents: map[string]*agent{}, placed: map[string]placed{}}
	for _, u := range opt.Users {
		e.users[u.Extension] = u.Name
	}
	e.m = newMetrics(opt.Registerer, e)
	return e
}

// Known reports whether extension is a user, and their name.
func (e *Engine) Known(extension string) (name string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.known(extension)
}

func (e *Engine) known(extension string) (name string, ok bool) {
	if n, ok := e.users[extension]; ok {
		return n, true
	}
	if len(e.users) == 0 && e.opt.Pattern != nil && e.opt.Pattern(extension) {
		return "", true
	}
	return "", false
}

// Reconfigure puts a reloaded configuration in force: the directory, the
// screen-pop settings, line names, the CRMs to search and the scripts.
// Cards already shown keep what they were built with; the next call's
// card, and the next change to one in progress, use the new settings.
// The clock, buffers and metrics stay as New made them.
func (e *Engine) Reconfigure(opt Options) {
	if opt.ScreenPop == nil {
		def := crmsync.DefaultPolicyConfig()
		opt.ScreenPop = def.ScreenPopOf
	}
	users := make(map[string]string, len(opt.Users))
	for _, u := range opt.Users {
		users[u.Extension] = u.Name
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	opt.Clock, opt.Buffer, opt.Retain, opt.Registerer = e.opt.Clock, e.opt.Buffer, e.opt.Retain, e.opt.Registerer
	e.opt, e.users = opt, users
}

// Placing marks callID as the call callbridge is placing for user to
// number (click-to-dial), before the PBX is asked, so that its first
// transitions already make a manual card. forget undoes it when the PBX
// refuses.
func (e *Engine) Placing(callID, user, number string) (forget func()) {
	now := e.clock.Now()
	e.mu.Lock()
	_, internal := e.known(number)
	for id, p := range e.placed {
		if now.Sub(p.at) > placedTTL {
			delete(e.placed, id)
		}
	}
	e.placed[callID] = placed{user: user, number: number, internal: internal, at: now}
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		delete(e.placed, callID)
		e.mu.Unlock()
	}
}

// Transition follows one live transition of the engine (or a finished
// activity, which ends a card whose ended transition never came).
func (e *Engine) Transition(tr bridge.Transition) {
	if tr.User == "" || tr.CallID == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.agent(tr.User)
	e.prune(a, tr.Time)
	c := a.calls[tr.CallID]
	if tr.Activity != nil {
		if c != nil {
			e.end(a, c, tr.Time)
		}
		return
	}
	if c == nil {
		if tr.State == bridge.HungUp {
			return // ended before anything was shown
		}
		c = e.offer(a, tr)
	} else {
		e.update(a, c, tr)
	}
	switch tr.State {
	case bridge.Ringing:
	case bridge.Talking:
		e.connected(a, c, tr.Time)
	case bridge.HungUp:
		e.end(a, c, tr.Time)
	}
}

// Subscribe opens a stream of user's events. replay is what the client
// gets first: the events of the calls in progress and, when it resumes
// after event lastID (Last-Event-ID), every later event still retained,
// so calls that ended meanwhile end on its screen too. The stream's
// channel is closed when it falls behind (the client then reconnects)
// and by cancel.
func (e *Engine) Subscribe(user string, lastID uint64, resume bool) (replay []Event, events <-chan Event, cancel func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.agent(user)
	seen := map[uint64]bool{}
	for _, c := range a.calls {
		for _, ev := range c.events {
			if !resume || ev.ID > lastID {
				replay = append(replay, ev)
				seen[ev.ID] = true
			}
		}
	}
	if resume {
		for i := range a.recent {
			ev := a.recent[(a.next+i)%len(a.recent)]
			if ev.ID > lastID && !seen[ev.ID] {
				replay = append(replay, *ev)
			}
		}
	}
	sort.Slice(replay, func(i, j int) bool { return replay[i].ID < replay[j].ID })
	ch := make(chan Event, e.opt.Buffer)
	a.subs[ch] = struct{}{}
	return replay, ch, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if _, ok := a.subs[ch]; ok {
			delete(a.subs, ch)
			close(ch)
		}
	}
}

// staleCall is how long a card may go without ending: a call whose end
// the PBX never reported (a source that lost it) is not shown for ever.
const staleCall = 12 * time.Hour

// prune ends a's cards older than staleCall at now.
// Only once a card may be stale (pruneAt) are the agent's cards looked
// at: an agent with many calls at once (a queue's, a whole team's line)
// would otherwise cost a pass over all of them at every transition.
func (e *Engine) prune(a *agent, now time.Time) {
	if len(a.calls) == 0 || now.Before(a.pruneAt) {
		return
	}
	a.pruneAt = time.Time{}
	for _, c := range a.calls {
		if now.Sub(c.card.StartedAt) > staleCall {
			e.end(a, c, now)
			continue
		}
		a.staleAt(c)
	}
}

// staleAt moves a's next prune forward to when c may be stale.
func (a *agent) staleAt(c *call) {
	if at := c.card.StartedAt.Add(staleCall); a.pruneAt.IsZero() || at.Before(a.pruneAt) {
		a.pruneAt = at
	}
}

// agent is one user's cards, streams and phone state.
type agent struct {
	ext   string
	calls map[string]*call
	// recent are the newest events, up to Options.Retain of them, in a
	// ring whose oldest is at next once it is full. They point into
	// their calls' events, which are never changed once emitted.
	recent []*Event
	next   int
	subs   map[chan Event]struct{}
	// connected counts the calls that are connected, so that phone
	// need not look at every call.
	connected int
	phone     string // idle, ringing, on_call
	since     time.Time
	// pruneAt is when the oldest card may be stale (see prune); zero:
	// none is open.
	pruneAt time.Time
}

func (e *Engine) agent(ext string) *agent {
	a := e.agents[ext]
	if a == nil {
		a = &agent{ext: ext, calls: map[string]*call{}, subs: map[chan Event]struct{}{}, phone: Idle}
		e.agents[ext] = a
	}
	return a
}

// emit records an event of kind for c and hands it to every stream of a;
// one that cannot take it is dropped.
// The event holds the card as it is, not a deep copy: what the card
// points to (its records, scripts and times) is replaced, never changed
// in place, when the card changes (build, connected, end), so the event
// keeps what it was sent with.
func (e *Engine) emit(a *agent, c *call, k kind, at time.Time) {
	c.events = append(c.events, Event{ID: e.seq.Add(1), Kind: kinds[k], At: at.UTC(), Card: c.card})
	ev := &c.events[len(c.events)-1]
	if len(a.recent) < e.opt.Retain {
		a.recent = append(a.recent, ev)
	} else {
		a.recent[a.next] = ev
		a.next = (a.next + 1) % len(a.recent)
	}
	e.m.events[k].Inc()
	for ch := range a.subs {
		select {
		case ch <- *ev:
		default:
			delete(a.subs, ch)
			close(ch)
			e.m.dropped.Inc()
		}
	}
}
