package bridge

import (
	"regexp"
	"sort"
	"strings"
	"time"
)

// User is an internal party from the user directory.
type User struct {
	Extension string   // what identifies the user, e.g. "101"
	Name      string   // display name
	Email     string   // for mapping to CRM users
	Endpoints []string // device/endpoint names if not the extension itself
	// Mobiles are the user's own mobile numbers: when the PBX dials one
	// for somebody else's call (follow-me, a ring group with the mobile
	// in it), that leg is the user's.
	Mobiles []string
}

// DefaultExtensionPattern makes any endpoint named with 2–6 digits a user
// when no directory is configured.
var DefaultExtensionPattern = regexp.MustCompile(`^[0-9]{2,6}$`)

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
}

// Stats counts what the engine holds and what it passed over.
type Stats struct {
	Calls    int // calls in progress
	Channels int // channels alive
	Ignored  int // events about channels the engine did not know, or of unknown kinds
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

	chans   map[string]*channel
	bridges map[string][]*channel
	locals  map[string]*[2]*channel // Local pair name -> halves ;1 and ;2
	linked  map[string]*call        // source linked ids
	calls   int
	live    int
	ignored int
	last    time.Time // newest event time seen

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
		chans:    make(map[string]*channel),
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
func (e *Engine) Knows(id string) bool { return id != "" && e.chans[id] != nil }

// Stats reports what the engine holds.
func (e *Engine) Stats() Stats {
	return Stats{Calls: e.calls, Channels: e.live, Ignored: e.ignored}
}

// channel is one leg as the engine tracks it.
type channel struct {
	id, name, endpoint string
	user               *User
	trunk              bool
	localKey           string   // non-empty for Local channels
	localHalf          int      // 1 or 2
	partner            *channel // the other half of a Local pair

	call *call // follow with root()
	uleg *userLeg

	state                    ChannelState
	callerNum, callerName    string
	connNum, connName        string
	exten, context           string // as first seen: what was dialled
	incoming                 bool   // called in to the PBX rather than dialled by it
	created                  time.Time
	bridge                   string
	dialer                   *channel // the channel that dialled this one
	dialString               string
	peerStatus               string // first final status of the Dial to this channel
	outStatus                string // status of this channel's own dialling
	varStatus                string // DIALSTATUS set on it
	offeredAt, ringAt, endAt time.Time
	cause                    int
	gone                     bool
}

// party is the other side of a user's activity.
type party struct {
	number, name, ddi string
	user              *User
}

type userLeg struct {
	user  *User
	call  *call
	dir   Direction
	chans []*channel
	live  int
	// started is when the user placed the call (outbound) or was first
	// offered it (inbound); startedAt() refines the latter to ringing.
	started time.Time
	// answered is when the user's leg was first bridged with another party.
	answered      time.Time
	ended         time.Time
	transferAt    time.Time // the user transferred the call away
	transferredBy string
	remote        party
	rewired       bool // remote set by a transfer: keep it
	sentRinging   bool
	sentEnded     bool
}

type call struct {
	id     string
	first  time.Time
	parent *call
	live   int
	legs   []*userLeg
	chans  []*channel
	// privacy is the most restrictive class any channel was marked with.
	privacy    string
	linked     []string // source linked ids that point at this call
	transferBy string
	transferAt time.Time
}

func (c *call) root() *call {
	for c.parent != nil {
		if c.parent.parent != nil {
			c.parent = c.parent.parent
		}
		c = c.parent
	}
	return c
}

func (c *channel) callRoot() *call { return c.call.root() }

// Apply feeds one event and returns what it changed: live transitions and,
// when a call ends, its users' finished activities. The returned slice is
// the caller's.
func (e *Engine) Apply(ev Event) []Transition {
	e.out = nil
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
		if c := e.chans[ev.Channel.ID]; c != nil {
			e.leave(c)
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
		if c := e.chans[ev.Channel.ID]; c != nil && !c.gone {
			if c.endAt.IsZero() {
				c.endAt = ev.Time
			}
			if ev.Cause != 0 && c.cause == 0 {
				c.cause = ev.Cause
			}
		} else {
			e.ignored++
		}
	case ChannelDestroyed:
		if c := e.chans[ev.Channel.ID]; c != nil && !c.gone {
			e.destroy(c, ev.Cause, ev.Time)
		} else {
			e.ignored++
		}
	case Snapshot:
		e.snapshot(ev)
	default:
		e.ignored++
	}
	return e.out
}

// Flush ends every call still open as of at (end of a replay) and returns
// their activities. Channels are closed in id order so the result does not
// depend on map order.
func (e *Engine) Flush(at time.Time) []Transition {
	e.out = nil
	ids := make([]string, 0, len(e.chans))
	for id, c := range e.chans {
		if !c.gone {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		if c := e.chans[id]; c != nil && !c.gone {
			e.destroy(c, 0, at)
		}
	}
	return e.out
}

// ---- channels ----

func (e *Engine) created(ev Event) {
	ch := &ev.Channel
	if ch.ID == "" {
		e.ignored++
		return
	}
	if c := e.chans[ch.ID]; c != nil {
		e.update(c, ch, ev.Time)
		return
	}
	c := e.newChannel(ch, ev.Time)
	c.incoming = ch.State == StateRing || (ch.State == StateUp && !dialledApp(ch.App))
	e.begin(c, ev.Time)
}

// known returns the channel an event is about, adopting it if the engine
// has not seen it yet (the source connected mid-call).
func (e *Engine) known(at time.Time, ch *Channel) *channel {
	if ch.ID == "" {
		e.ignored++
		return nil
	}
	if c := e.chans[ch.ID]; c != nil {
		if c.gone {
			return nil
		}
		return c
	}
	if ch.Name == "" {
		e.ignored++
		return nil
	}
	c := e.newChannel(ch, at)
	c.incoming = !dialledApp(ch.App) && (ch.State == StateRing || ch.State == StateUp)
	e.begin(c, at)
	return c
}

func dialledApp(app string) bool { return app == "AppDial" || app == "AppQueue" || app == "AppDial2" }

func (e *Engine) newChannel(ch *Channel, at time.Time) *channel {
	c := &channel{
		id:         ch.ID,
		name:       ch.Name,
		endpoint:   ch.Endpoint,
		state:      ch.State,
		callerNum:  ch.CallerNumber,
		callerName: ch.CallerName,
		connNum:    ch.ConnectedNumber,
		connName:   ch.ConnectedName,
		exten:      ch.Exten,
		context:    ch.Context,
		created:    ch.Created,
	}
	if c.created.IsZero() || c.created.After(at) {
		c.created = at
	}
	tech, res := splitName(ch.Name)
	if strings.EqualFold(tech, "Local") {
		if i := strings.LastIndexByte(res, ';'); i >= 0 {
			c.localKey = ch.Name[:len(ch.Name)-len(res)+i]
			if res[i+1:] == "2" {
				c.localHalf = 2
			} else {
				c.localHalf = 1
			}
		}
	}
	if c.localKey == "" {
		if c.endpoint == "" {
			c.endpoint = endpointOf(res)
		}
		c.trunk = e.trunks[c.endpoint]
		if !c.trunk {
			c.user = e.userFor(c.endpoint)
		}
	}
	if ch.State == StateRinging {
		c.ringAt = at
	}
	cl := &call{id: c.id, first: c.created, live: 1}
	cl.chans = append(cl.chans, c)
	c.call = cl
	e.chans[c.id] = c
	e.calls++
	e.live++
	if c.localKey != "" {
		pair := e.locals[c.localKey]
		if pair == nil {
			pair = new([2]*channel)
			e.locals[c.localKey] = pair
		}
		pair[c.localHalf-1] = c
		if other := pair[2-c.localHalf]; other != nil {
			c.partner, other.partner = other, c
			e.merge(c.call, other.call)
		}
	}
	if ch.LinkedID != "" {
		if lc := e.linked[ch.LinkedID]; lc != nil {
			e.merge(c.call, lc)
		} else {
			e.linked[ch.LinkedID] = c.call
			c.call.linked = append(c.call.linked, ch.LinkedID)
		}
	}
	return c
}

// begin starts a user's outbound leg for a channel that calls in to the PBX.
func (e *Engine) begin(c *channel, at time.Time) {
	if c.user != nil && c.incoming {
		e.userLeg(c, Outbound, at)
	}
}

func (e *Engine) userFor(endpoint string) *User {
	if endpoint == "" {
		return nil
	}
	if len(e.cfg.Users) > 0 {
		return e.users[endpoint]
	}
	if u := e.patUsers[endpoint]; u != nil {
		return u
	}
	if !e.pattern.MatchString(endpoint) {
		return nil
	}
	u := &User{Extension: endpoint}
	e.patUsers[endpoint] = u
	return u
}

// mobileDigits is how many trailing digits identify a mobile number
// whatever prefix it is dialled with (+358 40…, 040…, 00358 40…).
const mobileDigits = 8

// mobileKey is the last mobileDigits digits of n, "" for shorter numbers.
func mobileKey(n string) string {
	var d []byte
	for i := 0; i < len(n); i++ {
		if n[i] >= '0' && n[i] <= '9' {
			d = append(d, n[i])
		}
	}
	if len(d) < mobileDigits {
		return ""
	}
	return string(d[len(d)-mobileDigits:])
}

// splitName splits "PJSIP/101-00000003" into "PJSIP" and "101-00000003".
func splitName(name string) (tech, rest string) {
	i := strings.IndexByte(name, '/')
	if i < 0 {
		return "", name
	}
	return name[:i], name[i+1:]
}

// endpointOf strips the sequence suffix Asterisk adds to channel names:
// "101-00000003" -> "101", "pstn-0000000b" -> "pstn".
func endpointOf(res string) string {
	if i := strings.LastIndexByte(res, '-'); i > 0 {
		return res[:i]
	}
	return res
}

func (e *Engine) update(c *channel, ch *Channel, at time.Time) {
	if ch.State != StateUnknown {
		if ch.State == StateRinging && c.ringAt.IsZero() {
			c.ringAt = at
			e.ringing(c, at)
		}
		c.state = ch.State
	}
	if ch.CallerNumber != "" || ch.CallerName != "" {
		c.callerNum, c.callerName = ch.CallerNumber, ch.CallerName
	}
	if ch.ConnectedNumber != "" || ch.ConnectedName != "" {
		c.connNum, c.connName = ch.ConnectedNumber, ch.ConnectedName
	}
	if c.exten == "" || c.exten == "s" {
		if ch.Exten != "" {
			c.exten = ch.Exten
		}
	}
}

func (e *Engine) dial(ev Event) {
	if ev.Peer.ID == "" {
		e.ignored++
		return
	}
	peer := e.known(ev.Time, &ev.Peer)
	if peer == nil {
		return
	}
	var caller *channel
	if ev.Channel.ID != "" {
		caller = e.known(ev.Time, &ev.Channel)
	}
	switch st := ev.DialStatus; st {
	case "":
		if peer.offeredAt.IsZero() {
			peer.offeredAt = ev.Time
		}
		peer.incoming = false
		if caller != nil && caller != peer {
			peer.dialer = caller
			e.merge(caller.call, peer.call)
		}
		if peer.dialString == "" {
			peer.dialString = ev.DialString
		}
		if peer.user == nil && peer.localKey == "" && (caller == nil || caller.user == nil) {
			// The PBX rings a user's own mobile for a call: a forward.
			// (A user calling a colleague's mobile is an external call.)
			if u := e.mobiles[mobileKey(dialNumber(peer.dialString))]; u != nil {
				peer.user = u
			}
		}
		if caller != nil && caller.user != nil && caller.uleg == nil {
			// A dialled user channel that now dials out (click-to-call
			// originate) is placing the call.
			e.userLeg(caller, Outbound, caller.created)
		}
		if caller != nil && caller.uleg != nil && caller.uleg.dir == Inbound && caller.dialer == nil {
			caller.uleg.dir = Outbound
			caller.uleg.started = caller.created
		}
		if peer.user != nil {
			e.userLeg(peer, Inbound, ev.Time)
		}
	case "RINGING", "PROGRESS", "PROCEEDING":
		if peer.ringAt.IsZero() && st == "RINGING" {
			peer.ringAt = ev.Time
			e.ringing(peer, ev.Time)
		}
	default:
		if peer.peerStatus == "" {
			peer.peerStatus = st
		}
		if caller != nil && caller.outStatus != "ANSWER" {
			caller.outStatus = st
		}
	}
}

// userLeg attaches user channel c to its user's leg in the call, making one
// if this is the user's first channel in it. A user offered the same call
// twice keeps one leg.
func (e *Engine) userLeg(c *channel, dir Direction, at time.Time) *userLeg {
	if c.uleg != nil {
		return c.uleg
	}
	cl := c.callRoot()
	var l *userLeg
	for _, x := range cl.legs {
		if x.user == c.user {
			l = x
			break
		}
	}
	if l == nil {
		l = &userLeg{user: c.user, call: cl, dir: dir}
		if dir == Outbound {
			l.started = c.created
		}
		if !cl.transferAt.IsZero() && cl.transferBy != c.user.Extension {
			l.transferredBy = cl.transferBy
		}
		cl.legs = append(cl.legs, l)
	}
	c.uleg = l
	l.chans = append(l.chans, c)
	l.live++
	if len(l.chans) == 1 && !l.rewired {
		l.remote = e.remoteOf(l)
	}
	if dir == Inbound {
		if c.offeredAt.IsZero() {
			c.offeredAt = at
		}
		if l.started.IsZero() || c.offeredAt.Before(l.started) {
			l.started = c.offeredAt
		}
		if !c.ringAt.IsZero() {
			e.ringing(c, c.ringAt)
		}
	} else if !l.sentRinging {
		l.sentRinging = true
		e.emitLive(l, Ringing, at)
	}
	return l
}

func (e *Engine) ringing(c *channel, at time.Time) {
	l := c.uleg
	if l == nil || l.dir != Inbound {
		return
	}
	if !l.sentRinging {
		l.sentRinging = true
		e.emitLive(l, Ringing, at)
	}
}

// ---- bridges ----

func (e *Engine) enter(c *channel, b string, conference bool, at time.Time) {
	if b == "" {
		return
	}
	if c.bridge != "" && c.bridge != b {
		e.leave(c)
	}
	if c.bridge == b {
		return
	}
	c.bridge = b
	members := append(e.bridges[b], c)
	e.bridges[b] = members
	if !conference {
		for _, m := range members[:len(members)-1] {
			if m.callRoot() != c.callRoot() {
				// Two calls meet: whoever dialled a code rather than a
				// person now takes over the other call (pickup, a
				// parked call retrieved).
				e.takeOver(c, m)
				e.takeOver(m, c)
			}
			e.merge(m.call, c.call)
		}
	}
	if len(members) < 2 {
		return
	}
	for _, m := range members {
		if m.uleg != nil && m.uleg.answered.IsZero() {
			e.connected(m.uleg, at)
		}
	}
}

// takeOver turns the outbound leg of a user who placed a call to nobody
// (dialled a pickup or parking code, dialled no one) into an inbound leg
// of the call its channel is now bridged into: the user answered that
// call's party. It runs before the two calls merge.
func (e *Engine) takeOver(c, other *channel) {
	l := c.uleg
	if l == nil || l.dir != Outbound || len(l.chans) != 1 || !l.answered.IsZero() || c.outStatus != "" || c.varStatus != "" {
		return
	}
	for _, x := range c.callRoot().chans {
		if x.dialer == c {
			return // it did dial somebody
		}
	}
	l.dir = Inbound
	c.offeredAt = c.created
	l.started = c.created
	if p := e.partyBehind(other, c); p.number != "" || p.user != nil {
		l.remote = p
	}
	if oc := other.callRoot(); !oc.transferAt.IsZero() && oc.transferBy != l.user.Extension {
		l.transferredBy = oc.transferBy
	}
}

func (e *Engine) leave(c *channel) {
	if c.bridge == "" {
		return
	}
	members := e.bridges[c.bridge]
	for i, m := range members {
		if m == c {
			members = append(members[:i], members[i+1:]...)
			break
		}
	}
	if len(members) == 0 {
		delete(e.bridges, c.bridge)
	} else {
		e.bridges[c.bridge] = members
	}
	c.bridge = ""
}

func (e *Engine) connected(l *userLeg, at time.Time) {
	l.answered = at
	if !l.rewired {
		if p := e.remoteOf(l); p.number != "" || p.user != nil {
			l.remote = p
		}
	}
	e.emitLive(l, Talking, at)
}

// ---- calls ----

// merge joins two calls: they turned out to be one conversation. The call
// that began first keeps its id; users who had a leg in both keep one.
func (e *Engine) merge(a, b *call) {
	a, b = a.root(), b.root()
	if a == b {
		return
	}
	if b.first.Before(a.first) || (b.first.Equal(a.first) && b.id < a.id) {
		a, b = b, a
	}
	b.parent = a
	e.calls--
	a.live += b.live
	a.chans = append(a.chans, b.chans...)
	b.chans = nil
	a.privacy = stricter(a.privacy, b.privacy)
	if b.transferAt.After(a.transferAt) {
		a.transferAt, a.transferBy = b.transferAt, b.transferBy
	}
	a.linked = append(a.linked, b.linked...)
	b.linked = nil
	for _, l := range b.legs {
		var into *userLeg
		for _, x := range a.legs {
			if x.user == l.user {
				into = x
				break
			}
		}
		if into == nil {
			l.call = a
			a.legs = append(a.legs, l)
			continue
		}
		into.absorb(l)
	}
	b.legs = nil
}

// absorb folds another leg of the same user into l: earliest start and
// answer, one set of channels.
func (l *userLeg) absorb(o *userLeg) {
	for _, c := range o.chans {
		c.uleg = l
	}
	l.chans = append(l.chans, o.chans...)
	l.live += o.live
	if !o.started.IsZero() && (l.started.IsZero() || o.started.Before(l.started)) {
		l.started = o.started
	}
	if !o.answered.IsZero() && (l.answered.IsZero() || o.answered.Before(l.answered)) {
		l.answered = o.answered
	}
	if l.transferAt.IsZero() {
		l.transferAt = o.transferAt
	}
	if l.transferredBy == "" {
		l.transferredBy = o.transferredBy
	}
	l.sentRinging = l.sentRinging || o.sentRinging
}

func (e *Engine) destroy(c *channel, cause int, at time.Time) {
	c.gone = true
	if c.endAt.IsZero() {
		c.endAt = at
	}
	if cause != 0 {
		c.cause = cause
	}
	e.leave(c)
	e.live--
	if c.localKey != "" {
		if pair := e.locals[c.localKey]; pair != nil {
			pair[c.localHalf-1] = nil
			if pair[0] == nil && pair[1] == nil {
				delete(e.locals, c.localKey)
			}
		}
	}
	if l := c.uleg; l != nil {
		l.live--
		if l.live == 0 && !l.sentEnded {
			l.sentEnded = true
			l.ended = l.end()
			e.emitLive(l, HungUp, l.ended)
		}
	}
	cl := c.callRoot()
	cl.live--
	if cl.live <= 0 {
		e.finish(cl)
	}
}

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

// end is when the user's part ended: the last of its channels hanging up,
// or the moment the user transferred the call away if that came first.
func (l *userLeg) end() time.Time {
	var end time.Time
	for _, c := range l.chans {
		t := c.endAt
		if t.IsZero() {
			continue
		}
		if t.After(end) {
			end = t
		}
	}
	if !l.transferAt.IsZero() && (end.IsZero() || l.transferAt.Before(end)) {
		end = l.transferAt
	}
	if end.Before(l.answered) {
		end = l.answered
	}
	if end.Before(l.started) {
		end = l.started
	}
	return end
}

// finish writes the activities of a call whose last channel is gone.
func (e *Engine) finish(cl *call) {
	e.calls--
	for _, l := range cl.legs {
		a := e.activity(cl, l)
		if a == nil {
			continue
		}
		e.out = append(e.out, Transition{
			Time:         a.EndedAt,
			CallID:       a.CallID,
			User:         a.User,
			Direction:    a.Direction,
			RemoteNumber: a.RemoteNumber,
			RemoteName:   a.RemoteName,
			Activity:     a,
		})
	}
	for _, c := range cl.chans {
		if e.chans[c.id] == c {
			delete(e.chans, c.id)
		}
		if c.bridge != "" {
			e.leave(c)
		}
	}
	for _, id := range cl.linked {
		delete(e.linked, id)
	}
	cl.chans, cl.legs, cl.linked = nil, nil, nil
}

func stricter(a, b string) string {
	rank := func(p string) int {
		switch p {
		case PrivacyPrivate:
			return 2
		case PrivacyUnclassified:
			return 1
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

func (e *Engine) varSet(ev Event) {
	c := e.chans[ev.Channel.ID]
	if c == nil {
		e.ignored++
		return
	}
	// Set(__CALLBRIDGE_PRIVACY=…) marks the variable for inheritance; the
	// underscores are not part of its name.
	switch strings.TrimLeft(ev.Var, "_") {
	case PrivacyVar:
		cl := c.callRoot()
		cl.privacy = stricter(cl.privacy, privacyClass(ev.Value))
	case "DIALSTATUS":
		if ev.Value != "" {
			c.varStatus = ev.Value
		}
	}
}

// privacyClass reads a CALLBRIDGE_PRIVACY value. Anything but "work" or
// "private" is unclassified: a typo must not turn a private call into a
// synced one.
func privacyClass(v string) string {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "work", "":
		return PrivacyWork
	case "private":
		return PrivacyPrivate
	}
	return PrivacyUnclassified
}

// ---- transfers ----

func (e *Engine) blindTransfer(ev Event) {
	t := e.chans[ev.Channel.ID]
	if t == nil {
		e.ignored++
		return
	}
	if tee := e.chans[ev.Peer.ID]; tee != nil {
		e.merge(t.call, tee.call)
	}
	e.transferredBy(t, ev.Time)
}

// transferredBy records that the user behind channel t handed the call on.
// Legs offered the call after the transferer answered and not connected
// yet are the transfer's targets even when the PBX reported their dial
// before the transfer itself.
func (e *Engine) transferredBy(t *channel, at time.Time) *User {
	l := t.uleg
	if l == nil {
		return nil
	}
	if l.transferAt.IsZero() {
		l.transferAt = at
	}
	cl := t.callRoot()
	cl.transferBy, cl.transferAt = l.user.Extension, at
	if !l.answered.IsZero() {
		for _, o := range cl.legs {
			if o != l && o.dir == Inbound && o.transferredBy == "" && o.answered.IsZero() && !o.started.Before(l.answered) {
				o.transferredBy = l.user.Extension
			}
		}
	}
	return l.user
}

func (e *Engine) attendedTransfer(ev Event) {
	first := e.chans[ev.Channel.ID]
	if first == nil {
		e.ignored++
		return
	}
	for _, id := range []string{ev.Second, ev.Peer.ID, ev.Target} {
		if c := e.chans[id]; c != nil {
			e.merge(first.call, c.call)
		}
	}
	by := e.transferredBy(first, ev.Time)
	if by == nil {
		if s := e.chans[ev.Second]; s != nil {
			by = e.transferredBy(s, ev.Time)
		}
	}
	if by == nil {
		return
	}
	tee := e.chans[ev.Peer.ID]
	if tee == nil {
		return
	}
	p := e.partyBehind(tee, nil)
	// Whoever was talking to (or being rung by) the transferer now has the
	// transferee on the line: that is their remote party from here on.
	for _, l := range first.callRoot().legs {
		if l.user == by || !l.ended.IsZero() {
			continue
		}
		if l.remote.user == by {
			l.remote = p
			l.rewired = true
			l.transferredBy = by.Extension
		}
	}
}

// ---- parties ----

// partyOf describes a real (non-Local) channel as a remote party.
func (e *Engine) partyOf(c *channel) party {
	if c.user != nil {
		return party{number: c.user.Extension, name: userName(c), user: c.user}
	}
	if c.incoming {
		p := party{number: c.callerNum, name: c.callerName, ddi: c.exten}
		if p.name == p.number {
			p.name = ""
		}
		return p
	}
	// A channel the PBX dialled out on: the number it was dialled with.
	n := dialNumber(c.dialString)
	if n == "" {
		n = c.callerNum
	}
	p := party{number: n}
	if c.callerName != "" && c.callerName != n {
		p.name = c.callerName
	}
	return p
}

func userName(c *channel) string {
	if c.user.Name != "" {
		return c.user.Name
	}
	if c.callerName != "" && c.callerName != c.callerNum {
		return c.callerName
	}
	return ""
}

// dialNumber takes the number out of a dial string: "0401234567@pstn",
// "PJSIP/101", "pstn/sip:+358401234567@host;transport=udp".
func dialNumber(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	for _, p := range []string{"sip:", "sips:", "tel:"} {
		s = strings.TrimPrefix(s, p)
	}
	if i := strings.IndexAny(s, "@;,&"); i >= 0 {
		s = s[:i]
	}
	return s
}

// partyBehind finds the real party at the far end of c, looking through
// Local channel pairs: up the chain of dialers, or else across the bridge
// the outer Local half sits in. skip is a channel not to report (the leg
// asking).
func (e *Engine) partyBehind(c *channel, skip *channel) party {
	for i := 0; c != nil && i < 32; i++ {
		if c.localKey == "" {
			return e.partyOf(c)
		}
		other := c.partner
		if other == nil {
			other = c
		}
		if other.dialer != nil {
			c = other.dialer
			continue
		}
		next := (*channel)(nil)
		for _, m := range e.bridges[other.bridge] {
			if m != other && m != skip && !m.gone {
				next = m
				break
			}
		}
		if next == nil && other != c {
			for _, m := range e.bridges[c.bridge] {
				if m != c && m != skip && !m.gone {
					next = m
					break
				}
			}
		}
		c = next
	}
	return party{}
}

// remoteOf works out who is on the other end of a user's leg.
func (e *Engine) remoteOf(l *userLeg) party {
	uc := l.chans[0]
	if l.dir == Inbound {
		if uc.dialer != nil {
			if p := e.partyBehind(uc.dialer, uc); p.number != "" || p.user != nil {
				return p
			}
		}
		// No dial seen (adopted after a reconnect, picked up): whoever
		// shares its bridge.
		for _, m := range e.bridges[uc.bridge] {
			if m != uc {
				if p := e.partyBehind(m, uc); p.number != "" || p.user != nil {
					return p
				}
			}
		}
		return party{number: uc.connNum, name: nameIf(uc.connName, uc.connNum)}
	}
	// Outbound: the user who answered, else what the user dialled.
	for _, c := range l.call.root().chans {
		if c.user != nil && c.user != l.user && c.uleg != nil && !c.uleg.answered.IsZero() && c.uleg.dir == Inbound {
			return party{number: c.user.Extension, name: userName(c), user: c.user}
		}
	}
	// What the user dialled, unless that was a code around the number
	// (a private-call prefix such as *99<number>): then the number the
	// PBX dialled out with.
	n := uc.exten
	if n == "" || n == "s" || strings.ContainsAny(n, "*#") {
		for _, c := range l.call.root().chans {
			if c.dialer == uc {
				if d := dialNumber(c.dialString); d != "" && (n == "" || n == "s" || strings.HasSuffix(n, d)) {
					n = d
				}
				break
			}
		}
	}
	p := party{number: n}
	if u := e.userFor(n); u != nil && u != l.user && !e.trunks[n] {
		p.user = u
		p.name = u.Name
	}
	return p
}

func nameIf(name, num string) string {
	if name == num {
		return ""
	}
	return name
}

// ---- outcome ----

func (e *Engine) activity(cl *call, l *userLeg) *Activity {
	// An inbound leg's caller was worked out while the Local channels and
	// bridges leading to it still existed; an outbound leg's remote may
	// only now be known (who answered).
	if !l.rewired && (l.dir == Outbound || (l.remote.number == "" && l.remote.user == nil)) {
		if p := e.remoteOf(l); p.number != "" || p.user != nil {
			l.remote = p
		}
	}
	a := &Activity{
		CallID:        cl.id,
		User:          l.user.Extension,
		UserName:      l.user.Name,
		LocalNumber:   l.user.Extension,
		Direction:     l.dir,
		Internal:      l.remote.user != nil,
		RemoteNumber:  l.remote.number,
		RemoteName:    l.remote.name,
		StartedAt:     l.startedAt(),
		AnsweredAt:    l.answered,
		TransferredBy: l.transferredBy,
		Privacy:       cl.privacy,
		Source:        e.cfg.Source,
	}
	if a.Privacy == "" {
		a.Privacy = PrivacyWork
	}
	if l.dir == Inbound && !a.Internal {
		a.DDI = l.remote.ddi
	}
	a.ID = ActivityID(e.cfg.PBX, a.CallID, a.User)
	a.EndedAt = l.end()
	// Sources do not always report in order (a ring seen after the
	// hang-up): keep started <= answered <= ended.
	if a.StartedAt.IsZero() || (!l.answered.IsZero() && l.answered.Before(a.StartedAt)) {
		a.StartedAt = l.answered
	}
	if a.StartedAt.IsZero() || a.EndedAt.Before(a.StartedAt) {
		if a.StartedAt.IsZero() {
			a.StartedAt = a.EndedAt
		} else {
			a.EndedAt = a.StartedAt
		}
	}
	switch {
	case !l.answered.IsZero():
		a.State, a.Reason = Connected, ReasonAnswered
		if !l.transferAt.IsZero() {
			a.Reason = ReasonTransferred
		}
		a.RingSeconds = seconds(l.answered.Sub(a.StartedAt))
		a.TalkSeconds = seconds(a.EndedAt.Sub(l.answered))
	case l.dir == Inbound:
		a.State, a.Reason = Missed, e.missedReason(cl, l)
		a.RingSeconds = seconds(a.EndedAt.Sub(a.StartedAt))
	default:
		if !e.placedACall(l) {
			return nil
		}
		a.State, a.Reason = Unaccepted, e.unacceptedReason(l)
		a.RingSeconds = seconds(a.EndedAt.Sub(a.StartedAt))
	}
	return a
}

// placedACall filters out outbound legs that were not calls to anybody:
// feature codes, voicemail, an IVR reached by dialling a star code.
func (e *Engine) placedACall(l *userLeg) bool {
	for _, c := range l.chans {
		if c.outStatus != "" || c.varStatus != "" {
			return true
		}
	}
	n := l.remote.number
	if n == "" || n == "s" || strings.HasPrefix(n, "*") || strings.HasPrefix(n, "#") {
		return false
	}
	return true
}

// missedReason explains an inbound leg that never connected.
func (e *Engine) missedReason(cl *call, l *userLeg) Reason {
	for _, c := range l.chans {
		if c.cause == 26 { // "answered elsewhere", Asterisk's own verdict
			return ReasonAnsweredElsewhere
		}
	}
	// Another user took the call after this one was offered it: a ring
	// group or queue race this user lost. A user who answered before this
	// one was offered it (and then transferred) does not count.
	for _, o := range cl.legs {
		if o != l && o.dir == Inbound && !o.answered.IsZero() && !o.answered.Before(l.started) {
			return ReasonAnsweredElsewhere
		}
	}
	var last *channel
	for _, c := range l.chans {
		if last == nil || c.endAt.After(last.endAt) {
			last = c
		}
	}
	if last.cause == 21 {
		return ReasonRejected
	}
	if r, ok := statusReason(e.offerStatus(last)); ok {
		return r
	}
	if r, ok := causeReason(last.cause); ok {
		return r
	}
	return ReasonCancel
}

// offerStatus is the dial status of an offer to c, taken from the
// outermost Dial in a chain of Local channels: a queue's NOANSWER for its
// member says more than the CANCEL of the member's inner Dial.
func (e *Engine) offerStatus(c *channel) string {
	st := c.peerStatus
	for i := 0; c != nil && i < 32; i++ {
		d := c.dialer
		if d == nil || d.localKey == "" {
			break
		}
		outer := d.partner
		if outer == nil {
			break
		}
		if outer.peerStatus != "" {
			st = outer.peerStatus
		}
		c = outer
	}
	return st
}

func (e *Engine) unacceptedReason(l *userLeg) Reason {
	var st string
	var cause int
	for _, c := range l.chans {
		if c.outStatus != "" {
			st = c.outStatus
		} else if st == "" {
			st = c.varStatus
		}
		if c.cause != 0 {
			cause = c.cause
		}
	}
	if r, ok := statusReason(st); ok {
		return r
	}
	if r, ok := causeReason(cause); ok && r != ReasonCancel {
		return r
	}
	if st == "" && !e.dialledAnyone(l) {
		return ReasonFailed
	}
	return ReasonCancel
}

func (e *Engine) dialledAnyone(l *userLeg) bool {
	for _, c := range l.call.root().chans {
		if c.dialer != nil && c.dialer.uleg == l {
			return true
		}
	}
	return false
}

func statusReason(st string) (Reason, bool) {
	switch st {
	case "BUSY":
		return ReasonBusy, true
	case "NOANSWER":
		return ReasonNoAnswer, true
	case "CANCEL":
		return ReasonCancel, true
	case "CONGESTION", "CHANUNAVAIL", "DONTCALL", "TORTURE", "INVALIDARGS":
		return ReasonFailed, true
	}
	return "", false
}

// causeReason maps Q.850 hang-up causes.
func causeReason(cause int) (Reason, bool) {
	switch cause {
	case 17:
		return ReasonBusy, true
	case 18, 19:
		return ReasonNoAnswer, true
	case 21:
		return ReasonRejected, true
	case 26:
		return ReasonAnsweredElsewhere, true
	case 0, 16, 31, 127:
		return "", false
	}
	return ReasonFailed, true
}

func seconds(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

func (e *Engine) emitLive(l *userLeg, s LiveState, at time.Time) {
	p := l.remote
	tr := Transition{
		Time:         at,
		CallID:       l.call.root().id,
		User:         l.user.Extension,
		State:        s,
		Direction:    l.dir,
		RemoteNumber: p.number,
		RemoteName:   p.name,
		Internal:     p.user != nil,
	}
	if l.dir == Inbound && p.user == nil {
		tr.DDI = p.ddi
	}
	e.out = append(e.out, tr)
}

// ---- reconciliation ----

// snapshot reconciles with the full list of live channels a source took
// after (re)connecting. Channels the engine knows that are not listed ended
// while the source was away: they are closed at ev.Time, the last moment the
// source knew them alive, so talk time is never overstated. Listed channels
// the engine did not know are adopted; bridge membership is brought up to
// date.
func (e *Engine) snapshot(ev Event) {
	alive := make(map[string]*Channel, len(ev.Channels))
	for i := range ev.Channels {
		alive[ev.Channels[i].ID] = &ev.Channels[i]
	}
	var gone []string
	for id, c := range e.chans {
		if !c.gone && alive[id] == nil {
			gone = append(gone, id)
		}
	}
	sort.Strings(gone)
	for _, id := range gone {
		if c := e.chans[id]; c != nil && !c.gone {
			e.destroy(c, 0, ev.Time)
		}
	}
	for i := range ev.Channels {
		ch := &ev.Channels[i]
		at := ch.Created
		if at.IsZero() {
			at = ev.Time
		}
		c := e.chans[ch.ID]
		if c == nil {
			if ch.Name == "" {
				continue
			}
			c = e.newChannel(ch, at)
			c.incoming = !dialledApp(ch.App) && (ch.State == StateRing || ch.State == StateUp)
			if c.user != nil {
				if c.incoming {
					e.userLeg(c, Outbound, at)
				} else {
					e.userLeg(c, Inbound, at)
				}
			}
		} else if !c.gone {
			e.update(c, ch, ev.Time)
		}
	}
	// Bridges after every channel exists, so a pair meets whichever comes
	// first in the list.
	for i := range ev.Channels {
		ch := &ev.Channels[i]
		c := e.chans[ch.ID]
		if c == nil || c.gone || c.bridge == ch.Bridge {
			continue
		}
		if ch.Bridge == "" {
			e.leave(c)
		} else {
			e.enter(c, ch.Bridge, false, ev.Time)
		}
	}
}
