package dialog

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callbridge/callbridge/bridge"
)

// Message is one SIP message as captured: the raw payload with the
// transport addresses and the capture time.
type Message struct {
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
	Addr netip.AddrPort // port 0 matches any port of Addr
	Name string         // endpoint name; empty means Config.TrunkName
}

// Config tells the tracker who is who on the wire.
type Config struct {
	// PBX lists the PBX's SIP addresses (port 0: any port). Empty means
	// learn it: the target of the first INVITE seen, and after that any
	// address that both sends and receives new INVITEs.
	PBX []netip.AddrPort
	// Trunks lists trunk peers by address.
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
}

// Stats counts what the tracker saw.
type Stats struct {
	Messages        int // messages fed
	Malformed       int // payloads that did not parse as SIP with a Call-ID, From, To and CSeq
	Retransmissions int // duplicates dropped
	Ignored         int // messages about no tracked INVITE dialog (OPTIONS, REGISTER, strays)
	Legs            int // INVITE dialogs tracked in total
	Live            int // INVITE dialogs open now
	Expired         int // dialogs ended by a timeout rather than by signalling
	Transfers       int // blind and attended transfers reported
	Flushed         int // dialogs still open at a Flush
}

// Errors Feed returns (wrapped).
var (
	ErrParse   = errors.New("dialog: not a SIP message")
	ErrHeaders = errors.New("dialog: missing dialog headers")
)

// Tracker follows INVITE dialogs and emits bridge events.
type Tracker struct {
	cfg    Config
	parser *sip.Parser
	users  map[string]bool
	pbx    []netip.AddrPort
	// Learning the PBX: addresses seen sending and receiving new INVITEs.
	sent, recv map[netip.AddrPort]bool

	byCallID map[string][]*leg
	live     []*leg
	calls    int
	stats    Stats
	lastGC   time.Time
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
	t := &Tracker{
		cfg:      cfg,
		parser:   sip.NewParser(sip.WithHeadersParsers(headerParsers())),
		pbx:      slices.Clone(cfg.PBX),
		sent:     map[netip.AddrPort]bool{},
		recv:     map[netip.AddrPort]bool{},
		byCallID: map[string][]*leg{},
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
	s.Live = len(t.live)
	return s
}

// PBX reports the PBX addresses configured or learnt so far.
func (t *Tracker) PBX() []netip.AddrPort { return slices.Clone(t.pbx) }

// leg is one INVITE dialog between the PBX and a device or trunk.
type leg struct {
	ch       bridge.Channel
	callID   string
	fromTag  string // From tag of the dialog-creating INVITE
	out      bool   // the PBX sent the INVITE
	device   netip.AddrPort
	cseq     uint32 // CSeq of the (latest) initial INVITE, for telling re-INVITE responses apart
	announce bool   // ChannelCreated sent
	up       bool
	ringing  bool
	ended    bool
	endedAt  time.Time
	lastSeen time.Time
	// hangup is set when the leg was asked to hang up but is kept until
	// the legs dialled for it are gone, as the PBX keeps its channel.
	hangup      bool
	hangupCause int
	hangupAt    time.Time

	call     string // the call's id: the first leg's channel ID
	parent   *leg   // the leg this one was dialled for
	onBehalf *leg   // consult: the user leg it was placed from
	consult  *leg   // the live consult leg placed from this leg
	bridge   string // the synthetic bridge it is in
	held     string // consult: the bridge it left for the consultation
	replaces *leg   // INVITE with Replaces: the leg it takes over
	referTo  string // pending REFER's Refer-To, until the 2xx
	seen     []msgKey
}

type msgKey struct {
	status int
	cseq   uint32
	method string
	src    netip.AddrPort
}

// parsed is what the tracker reads from one message.
type parsed struct {
	m        Message
	req      *sip.Request
	res      *sip.Response
	callID   string
	fromTag  string
	toTag    string
	fromUser string
	fromName string
	cseq     uint32
	method   string
}

// Feed parses one SIP message and passes the events it causes to out.
// A message that does not parse returns an error wrapping ErrParse or
// ErrHeaders; the tracker state is unaffected.
func (t *Tracker) Feed(m Message, out func(bridge.Event)) error {
	t.stats.Messages++
	msg, err := t.parser.ParseSIP(m.Payload)
	if err != nil {
		t.stats.Malformed++
		return fmt.Errorf("%w: %v", ErrParse, err)
	}
	p := parsed{m: m}
	cid, from, to, cs := msg.CallID(), msg.From(), msg.To(), msg.CSeq()
	if cid == nil || from == nil || to == nil || cs == nil || *cid == "" {
		t.stats.Malformed++
		return ErrHeaders
	}
	p.callID = string(*cid)
	p.fromTag, _ = from.Params.Get("tag")
	p.toTag, _ = to.Params.Get("tag")
	p.fromUser, p.fromName = from.Address.User, from.DisplayName
	p.cseq, p.method = cs.SeqNo, string(cs.MethodName)
	switch v := msg.(type) {
	case *sip.Request:
		p.req = v
	case *sip.Response:
		p.res = v
	default:
		t.stats.Malformed++
		return ErrParse
	}
	t.gc(m.Time, out)
	if p.req != nil {
		t.request(&p, out)
	} else {
		t.response(&p, out)
	}
	return nil
}

// headerParsers are the headers parsed as a message is read: those the
// tracker reads, and Content-Length, which bounds the body. The rest stay
// text until asked for (sipgo parses them lazily); Via, Contact and the
// route sets are most of the parsing cost of a message and the tracker
// reads none of them, so a malformed one no longer makes a message
// malformed either: a passive listener has no reason to refuse it.
func headerParsers() map[string]sip.HeaderParser {
	all := sip.DefaultHeadersParser()
	keep := map[string]sip.HeaderParser{}
	for _, h := range []string{"from", "f", "to", "t", "call-id", "i", "cseq", "content-length", "l", "refer-to", "referred-by"} {
		if p, ok := all[h]; ok {
			keep[h] = p
		}
	}
	return keep
}

// Flush ends every open dialog as of at (the end of a replay) and forgets
// them all.
func (t *Tracker) Flush(at time.Time, out func(bridge.Event)) {
	for _, l := range slices.Clone(t.live) {
		t.stats.Flushed++
		t.end(l, at, 16, out)
	}
	t.byCallID = map[string][]*leg{}
}

// Expire ends dialogs that timed out as of now; live sources call it
// periodically with the wall clock, since a silent network sends no
// messages that would do it.
func (t *Tracker) Expire(now time.Time, out func(bridge.Event)) { t.gc(now, out) }

func (t *Tracker) gc(now time.Time, out func(bridge.Event)) {
	if now.Sub(t.lastGC) < time.Second {
		return
	}
	t.lastGC = now
	for _, l := range slices.Clone(t.live) {
		switch {
		case l.ended:
		case l.hangup && now.Sub(l.hangupAt) > 5*time.Second:
			t.destroy(l, now, out)
		case !l.up && now.Sub(l.lastSeen) > t.cfg.EarlyTimeout:
			t.stats.Expired++
			if l.out {
				t.dial(l, "NOANSWER", now, out)
			}
			t.end(l, now, 19, out)
		case l.up && now.Sub(l.lastSeen) > t.cfg.MaxIdle:
			t.stats.Expired++
			t.end(l, now, 16, out)
		}
	}
	// Ended legs stay findable for 32 s (Timer B/F) so late responses and
	// retransmissions are recognised rather than taken for new dialogs.
	for id, ls := range t.byCallID {
		keep := ls[:0]
		for _, l := range ls {
			if !l.ended || now.Sub(l.endedAt) < 32*time.Second {
				keep = append(keep, l)
			}
		}
		if len(keep) == 0 {
			delete(t.byCallID, id)
		} else {
			t.byCallID[id] = keep
		}
	}
}

// find returns the leg a message belongs to.
func (t *Tracker) find(p *parsed) *leg {
	for _, l := range t.byCallID[p.callID] {
		if l.fromTag == p.fromTag || (p.toTag != "" && l.fromTag == p.toTag) {
			return l
		}
	}
	return nil
}

// duplicate records k on l and reports whether it was seen before.
func (l *leg) duplicate(k msgKey) bool {
	if slices.Contains(l.seen, k) {
		return true
	}
	if len(l.seen) >= 64 { // a long call with many re-INVITEs
		l.seen = l.seen[32:]
	}
	l.seen = append(l.seen, k)
	return false
}

func (t *Tracker) isPBX(a netip.AddrPort) bool {
	for _, p := range t.pbx {
		if p == a || (p.Port() == 0 && p.Addr() == a.Addr()) {
			return true
		}
	}
	return false
}

// learn updates the learnt PBX set from a new INVITE: the first INVITE's
// target, then any address seen both sending and receiving new INVITEs
// (a B2BUA does both, phones and trunks mostly one).
func (t *Tracker) learn(src, dst netip.AddrPort) {
	if len(t.cfg.PBX) > 0 {
		return
	}
	if len(t.pbx) == 0 {
		t.pbx = append(t.pbx, dst)
	}
	if len(t.sent) > 4096 { // bound the bookkeeping on a busy network
		clear(t.sent)
		clear(t.recv)
	}
	t.sent[src], t.recv[dst] = true, true
	for _, a := range []netip.AddrPort{src, dst} {
		if t.sent[a] && t.recv[a] && !t.isPBX(a) {
			t.pbx = append(t.pbx, a)
		}
	}
}

func (t *Tracker) isUser(s string) bool {
	if s == "" {
		return false
	}
	if t.users != nil {
		return t.users[s]
	}
	return t.cfg.ExtensionPattern.MatchString(s)
}

func (t *Tracker) trunk(a netip.AddrPort) (string, bool) {
	for _, tr := range t.cfg.Trunks {
		if tr.Addr == a || (tr.Addr.Port() == 0 && tr.Addr.Addr() == a.Addr()) {
			if tr.Name != "" {
				return tr.Name, true
			}
			return t.cfg.TrunkName, true
		}
	}
	return "", false
}

// identity is the party a request presents: P-Asserted-Identity when
// present (what the PBX asserts), else From.
func identity(p *parsed) (number, name string) {
	if h := p.req.GetHeader("P-Asserted-Identity"); h != nil {
		var u sip.Uri
		var hp sip.HeaderParams
		v := h.Value()
		if i := strings.IndexByte(v, ','); i >= 0 && !strings.Contains(v[:i], "\"") {
			v = v[:i]
		}
		if dn, err := sip.ParseAddressValue(v, &u, &hp); err == nil && u.User != "" {
			return u.User, dn
		}
	}
	return p.fromUser, p.fromName
}

// reasonCause reads the Q.850 cause of a Reason header; SIP cause 200
// ("Call completed elsewhere") is Q.850 26, answered elsewhere.
func reasonCause(msg sip.Message) int {
	cause := 0
	for _, h := range msg.GetHeaders("Reason") {
		for _, part := range strings.Split(h.Value(), ",") {
			proto, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			c := 0
			for _, kv := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
				if strings.EqualFold(k, "cause") {
					c, _ = strconv.Atoi(strings.Trim(v, "\""))
				}
			}
			switch {
			case strings.EqualFold(proto, "Q.850") && c > 0 && c < 128:
				return c
			case strings.EqualFold(proto, "SIP") && c == 200:
				cause = 26
			case strings.Contains(strings.ToLower(part), "completed elsewhere"):
				cause = 26
			}
		}
	}
	return cause
}

// failure maps a final non-2xx INVITE response to a Dial status and a Q.850
// cause, as Asterisk's chan_pjsip does.
func failure(code int) (status string, cause int) {
	switch {
	case code == 486 || code == 600:
		return "BUSY", 17
	case code == 603:
		return "BUSY", 21 // declined: Asterisk reports busy with cause "call rejected"
	case code == 408 || code == 480:
		return "NOANSWER", 19
	case code == 487:
		return "CANCEL", 16
	case code == 404 || code == 484 || code == 604:
		return "CHANUNAVAIL", 1
	case code == 503:
		return "CHANUNAVAIL", 34
	case code >= 500:
		return "CONGESTION", 38
	case code >= 300 && code < 400:
		return "CHANUNAVAIL", 23 // redirects are not followed by the PBX here
	}
	return "CHANUNAVAIL", 21
}

// retried reports final responses after which the sender retries the same
// dialog with a new CSeq rather than giving up.
func retried(code int) bool {
	return code == 401 || code == 407 || code == 422 || code == 491
}

func sanitize(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			break
		}
		if r < 0x80 && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	return b.String()
}
