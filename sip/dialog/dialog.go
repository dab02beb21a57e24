package dialog

import (
	"errors"
	"net/netip"
	"regexp"
	"slices"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callbridge/callbridge/bridge"
)

// Message is one SIP message as captured: the raw payload with the
// transport addresses and the capture time.
type Message struct {
	// Time is when the message was captured (the pcap record or the HEP
	// timestamp). It is the only clock the tracker knows: every event
	// time comes from it.
	Time      time.Time
	Src, Dst  netip.AddrPort
	Transport string // "udp", "tcp", … (informational)
	// CorrelationID is the HEP correlation chunk when present. Asterisk
	// (uuid_type = call-id) sends the message's own Call-ID; collectors
	// that put the other leg's Call-ID there link B2BUA legs exactly.
	CorrelationID string
	Payload       []byte
}

// Trunk names a trunk peer by address.
type Trunk struct {
	Addr Addr
	Name string // endpoint name; empty means Config.TrunkName
}

// Config tells the tracker who is who on the wire.
type Config struct {
	// PBX lists the PBX's SIP addresses. Empty means learn them from the
	// traffic (see learn.go): messages are held until the PBX is known.
	PBX []Addr
	// Trunks lists trunk peers by address. Empty means learn them: a
	// peer that presents a party that is not a user is a trunk.
	Trunks []Trunk
	// TrunkName is the endpoint of trunk legs: listed trunks without a
	// name, and legs whose party is not a user (default "pstn"). Put the
	// same name in bridge.Config.Trunks.
	TrunkName string
	// Users is the user directory (extensions); empty means any party
	// matching ExtensionPattern is a user, as in bridge.Config.
	Users []string
	// ExtensionPattern recognises users when Users is empty; nil means
	// bridge.DefaultExtensionPattern.
	ExtensionPattern *regexp.Regexp
	// Conferences maps the numbers that reach a conference room (as
	// dialled by a phone or a DID) to the room: legs the PBX answers for
	// the same room are in one conference. SIP shows nothing else of a
	// room; without this a conference looks like any number the PBX
	// answers itself.
	Conferences map[string]string
	// LinkWindow: an outgoing INVITE the PBX sends within this time of
	// an unanswered incoming one is taken as dialled for it even when no
	// identity relates them (default 2 s).
	LinkWindow time.Duration
	// EarlyTimeout ends dialogs that saw no final response for this long
	// (default 3 min, RFC 3261 Timer C).
	EarlyTimeout time.Duration
	// MaxIdle ends established dialogs with no message for this long,
	// for when the BYE was never seen (default 12 h).
	MaxIdle time.Duration
	// LearnBuffer bounds the messages held while the PBX is being learnt
	// (default 65536); when it fills before the PBX is known the tracker
	// fails with ErrUnknownPBX.
	LearnBuffer int
}

// Stats counts what the tracker saw.
type Stats struct {
	Messages        int // messages fed
	Malformed       int // payloads that did not parse as SIP with a Call-ID, From, To and CSeq
	BadTime         int // messages without a capture time, or one no live dialog could have
	Retransmissions int // duplicates dropped
	Ignored         int // messages about no tracked INVITE dialog (OPTIONS, REGISTER, strays)
	Held            int // messages waiting for the PBX to be learnt
	Legs            int // INVITE dialogs tracked in total
	Live            int // INVITE dialogs open now
	Expired         int // dialogs ended by a timeout rather than by signalling
	Transfers       int // blind and attended transfers reported
	Flushed         int // dialogs still open at a Flush
}

// Errors Feed and Flush return (wrapped).
var (
	ErrParse   = errors.New("dialog: not a SIP message")
	ErrHeaders = errors.New("dialog: missing dialog headers")
	ErrTime    = errors.New("dialog: message without a usable capture time")
	// ErrUnknownPBX: the PBX's address was not configured and the
	// traffic did not show it.
	ErrUnknownPBX = errors.New("sip: cannot tell the PBX from the traffic; set sip.pbx_addresses (and sip.trunk_addresses)")
)

// Tracker follows INVITE dialogs and emits bridge events.
type Tracker struct {
	cfg    Config
	parser *sip.Parser
	// slimmed is the copy of the message being parsed without the
	// headers the tracker never reads (see slim); sipgo copies what it
	// keeps, so one buffer serves every message.
	slimmed []byte
	// spare is the record of a message the tracker did not keep (most
	// are not), reused for the next one.
	spare *parsed
	users map[string]bool

	pbx     []Addr
	learn   *learner  // non-nil until the PBX is known
	peers   peerBook  // learnt phones and trunks
	err     error     // sticky: the PBX could not be learnt
	pending []*parsed // messages held while learning

	ix    index
	seq   uint64
	stats Stats
	// clock is the tracker's time for timeouts, from the capture times of
	// messages that concerned a tracked dialog (not retransmissions):
	// messages about nothing tracked never move it (see clock).
	clock     clock
	suspects  suspects
	consults  []*pendingConsult // consultations waiting to know their transferer
	promoting bool              // tracking suspects found to be right
	lastGC    time.Time
}

// New returns a tracker for cfg.
func New(cfg Config) *Tracker {
	if cfg.TrunkName == "" {
		cfg.TrunkName = "pstn"
	}
	if cfg.ExtensionPattern == nil {
		cfg.ExtensionPattern = bridge.DefaultExtensionPattern
	}
	if cfg.LinkWindow <= 0 {
		cfg.LinkWindow = 2 * time.Second
	}
	if cfg.EarlyTimeout <= 0 {
		cfg.EarlyTimeout = 3 * time.Minute
	}
	if cfg.MaxIdle <= 0 {
		cfg.MaxIdle = 12 * time.Hour
	}
	if cfg.LearnBuffer <= 0 {
		cfg.LearnBuffer = 65536
	}
	t := &Tracker{cfg: cfg, parser: sip.NewParser(sip.WithHeadersParsers(headerParsers())), pbx: slices.Clone(cfg.PBX)}
	t.ix.init()
	t.peers.init(len(cfg.Trunks) == 0)
	if len(t.pbx) == 0 {
		t.learn = newLearner()
	}
	if len(cfg.Users) > 0 {
		t.users = map[string]bool{}
		for _, u := range cfg.Users {
			t.users[u] = true
		}
	}
	return t
}

// Stats reports what the tracker has seen.
func (t *Tracker) Stats() Stats {
	s := t.stats
	s.Live = len(t.ix.live)
	s.Held = len(t.pending)
	return s
}

// PBX reports the PBX addresses configured or learnt so far (none while
// still learning).
func (t *Tracker) PBX() []Addr { return slices.Clone(t.pbx) }

// Trunks reports the peers taken for trunks: the configured ones, or
// those learnt so far.
func (t *Tracker) Trunks() []Trunk {
	if len(t.cfg.Trunks) > 0 {
		return slices.Clone(t.cfg.Trunks)
	}
	return t.peers.trunks(t.cfg.TrunkName)
}

// Feed parses one SIP message and passes the events it causes to out.
// A message that does not parse returns an error wrapping ErrParse or
// ErrHeaders, one without a capture time ErrTime; none of them changes
// any dialog. Once the PBX could not be learnt every call returns
// ErrUnknownPBX.
func (t *Tracker) Feed(m Message, out func(bridge.Event)) error {
	t.stats.Messages++
	if t.err != nil {
		return t.err
	}
	p, err := t.parse(m)
	if err != nil {
		return err
	}
	if t.learn != nil {
		return t.hold(p, out)
	}
	err = t.process(p, out)
	if !p.kept {
		t.spare = p
	}
	return err
}

// process tracks one parsed message once the PBX is known.
func (t *Tracker) process(p *parsed, out func(bridge.Event)) error {
	l := t.find(p)
	newDialog := l == nil && p.request && p.reqMethod == "INVITE" && p.toTag == ""
	if l == nil && t.held(p, newDialog, out) {
		return nil
	}
	if l == nil && !newDialog {
		t.stats.Ignored++
		return nil
	}
	at := p.m.Time
	if l != nil {
		if err := t.plausible(l, at); err != nil {
			t.stats.BadTime++
			return err
		}
		if l.duplicate(p.key()) {
			t.stats.Retransmissions++
			return nil
		}
	}
	t.clock.see(p.callID, at)
	t.gc(t.clock.now(), out)
	if newDialog {
		t.newLeg(p, out)
		return nil
	}
	l.lastSeen = at
	if p.request {
		t.request(l, p, out)
	} else {
		t.response(l, p, out)
	}
	return nil
}

// key tells a message from its retransmissions.
func (p *parsed) key() msgKey {
	if p.request {
		return msgKey{cseq: p.cseq, method: p.reqMethod, src: p.m.Src}
	}
	return msgKey{status: p.status, cseq: p.cseq, method: p.method, src: p.m.Src}
}

// Flush ends every open dialog as of at (the end of a replay) and forgets
// them all. Messages still held for learning the PBX are decided on what
// was seen; when that is not enough Flush returns ErrUnknownPBX.
func (t *Tracker) Flush(at time.Time, out func(bridge.Event)) error {
	if t.learn != nil && t.err == nil {
		t.decide(true, out)
	}
	t.dropSuspects()
	t.expireConsults(at.Add(t.cfg.LinkWindow+time.Second), out)
	for _, l := range t.ix.sortedLive() {
		t.stats.Flushed++
		t.end(l, at, 16, out)
	}
	t.ix.init()
	return t.err
}

// Expire ends dialogs that timed out as of now. now must be on the
// capture clock (the live collector adds the time elapsed since the last
// packet to that packet's capture time): a silent network sends no
// message that would do it.
func (t *Tracker) Expire(now time.Time, out func(bridge.Event)) {
	if t.learn != nil || now.Before(t.clock.now()) {
		return
	}
	t.gc(now, out)
}

// Now is the tracker's clock: the latest capture time of messages about
// tracked dialogs (see clock).
func (t *Tracker) Now() time.Time { return t.clock.now() }

func (t *Tracker) gc(now time.Time, out func(bridge.Event)) {
	if now.Sub(t.lastGC) < time.Second {
		return
	}
	t.lastGC = now
	t.expireConsults(now, out)
	var due []*leg
	for _, l := range t.ix.live {
		switch {
		case l.hangup && now.Sub(l.hangupAt) > 5*time.Second,
			!l.up && now.Sub(l.lastSeen) > t.cfg.EarlyTimeout,
			l.up && now.Sub(l.lastSeen) > t.cfg.MaxIdle:
			due = append(due, l)
		}
	}
	slices.SortFunc(due, bySeq)
	for _, l := range due {
		switch {
		case l.ended:
		case l.hangup && now.Sub(l.hangupAt) > 5*time.Second:
			t.destroy(l, now, out)
		case !l.up:
			t.stats.Expired++
			if l.out {
				t.dial(l, "NOANSWER", now, out)
			}
			t.end(l, now, 19, out)
		default:
			t.stats.Expired++
			t.end(l, now, 16, out)
		}
	}
	t.ix.forgetEnded(now)
}

// find returns the leg a message belongs to.
func (t *Tracker) find(p *parsed) *leg {
	for _, l := range t.ix.byCallID[p.callID] {
		if l.fromTag == p.fromTag || (p.toTag != "" && l.fromTag == p.toTag) {
			return l
		}
	}
	return nil
}

func (t *Tracker) isPBX(a netip.AddrPort) bool { return matchAny(t.pbx, a) }

func (t *Tracker) isUser(s string) bool {
	if s == "" {
		return false
	}
	if t.users != nil {
		return t.users[s]
	}
	return t.cfg.ExtensionPattern.MatchString(s)
}

// trunk names the trunk at a, if a is a configured or learnt trunk.
func (t *Tracker) trunk(a netip.AddrPort) (string, bool) {
	for _, tr := range t.cfg.Trunks {
		if tr.Addr.Match(a) {
			if tr.Name != "" {
				return tr.Name, true
			}
			return t.cfg.TrunkName, true
		}
	}
	if t.peers.isTrunk(a) {
		return t.cfg.TrunkName, true
	}
	return "", false
}
