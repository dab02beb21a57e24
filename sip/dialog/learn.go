package dialog

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/callbridge/callbridge/bridge"
)

// Learning who is who when the configuration does not say.
//
// The PBX is a back-to-back user agent: every call passes through it, so
// it is a party to every INVITE dialog, with many peers (the trunk, the
// phones), and usually both receives INVITEs (from a trunk or a phone) and
// sends them (to phones, to the trunk). A phone or a trunk talks to the
// PBX only. Until the PBX is known the tracker holds the messages it will
// need (see hold); as soon as one address is in more dialogs than any
// other and has at least two peers, that address is the PBX and the held
// messages are tracked in order, with their own capture times, as if the
// address had been configured. Other ports of the PBX's IP that never
// exchanged an INVITE with it (a second transport, a trunk-facing port)
// are the PBX too.
//
// Trunks are learnt as the traffic goes: a peer that presents a party that
// is not a user (its own number in the From of an INVITE it sends, the
// Request-URI of one the PBX sends it) is a trunk, and stays one even when
// it later presents a number that looks like an extension.

// learner counts the INVITE dialogs each address took part in.
type learner struct {
	dialogs map[string]bool
	addrs   map[netip.AddrPort]*addrSeen
}

type addrSeen struct {
	dialogs    int
	sent, recv bool
	peers      map[netip.AddrPort]bool
	// says is set when the address named itself a PBX (User-Agent or
	// Server: Asterisk, FreeSWITCH, …): it settles a tie, as in a capture
	// of one dialog, where both ends are in every dialog.
	says bool
}

func newLearner() *learner {
	return &learner{dialogs: map[string]bool{}, addrs: map[netip.AddrPort]*addrSeen{}}
}

func (ln *learner) seen(a netip.AddrPort) *addrSeen {
	s := ln.addrs[a]
	if s == nil {
		s = &addrSeen{peers: map[netip.AddrPort]bool{}}
		ln.addrs[a] = s
	}
	return s
}

// observe records a dialog-creating INVITE.
func (ln *learner) observe(p *parsed) {
	k := p.callID + "\x00" + p.fromTag
	if ln.dialogs[k] || p.m.Src == p.m.Dst {
		return
	}
	ln.dialogs[k] = true
	s, d := ln.seen(p.m.Src), ln.seen(p.m.Dst)
	s.dialogs++
	d.dialogs++
	s.sent, d.recv = true, true
	s.peers[p.m.Dst], d.peers[p.m.Src] = true, true
}

// pbx picks the PBX: the address in the most dialogs, strictly, with at
// least two peers; why says what was missing when there is none yet.
func (ln *learner) pbx() (pbx []Addr, why string) {
	addrs := make([]netip.AddrPort, 0, len(ln.addrs))
	for a := range ln.addrs {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.AddrPort.Compare)
	var best netip.AddrPort
	bestN, second := 0, 0
	for _, a := range addrs {
		switch n := ln.addrs[a].dialogs; {
		case n > bestN:
			best, bestN, second = a, n, bestN
		case n > second:
			second = n
		}
	}
	if bestN == 0 {
		return nil, "no INVITE seen"
	}
	if bestN == second || len(ln.addrs[best].peers) < 2 {
		// One dialog (or one peer) has the PBX and its peer alike: only
		// an address that says it is a PBX tells them apart.
		var says []netip.AddrPort
		for _, a := range addrs {
			if s := ln.addrs[a]; s.dialogs == bestN && s.says {
				says = append(says, a)
			}
		}
		if len(says) != 1 {
			if bestN == second {
				return nil, fmt.Sprintf("%d addresses are each in %d INVITE dialogs", ln.tied(bestN), bestN)
			}
			return nil, fmt.Sprintf("%s talks to one peer only", best)
		}
		best = says[0]
	}
	hub := ln.addrs[best]
	pbx = []Addr{AddrOf(best)}
	for _, a := range addrs {
		if s := ln.addrs[a]; a != best && a.Addr() == best.Addr() && !hub.peers[a] && !s.peers[best] {
			pbx = append(pbx, AddrOf(a))
		}
	}
	return pbx, ""
}

func (ln *learner) tied(n int) int {
	c := 0
	for _, s := range ln.addrs {
		if s.dialogs == n {
			c++
		}
	}
	return c
}

// heldMethods are the requests (and responses to them) the tracker uses;
// everything else is not held while learning.
func heldMethod(m string) bool {
	switch m {
	case "INVITE", "CANCEL", "BYE", "REFER", "UPDATE":
		return true
	}
	return false
}

// hold keeps a message until the PBX is learnt, then tracks everything
// held in order.
func (t *Tracker) hold(p *parsed, out func(bridge.Event)) error {
	if !heldMethod(p.method) {
		t.stats.Ignored++
		return nil
	}
	if p.request && p.reqMethod == "INVITE" && p.toTag == "" {
		t.learn.observe(p)
	}
	if p.saysPBX {
		t.learn.seen(p.m.Src).says = true
	}
	p.m.Payload, p.kept = nil, true // parsed, and callers reuse their buffers
	t.pending = append(t.pending, p)
	if len(t.pending) >= t.cfg.LearnBuffer {
		t.decide(true, out)
		return t.err
	}
	t.decide(false, out)
	return nil
}

// decide ends learning when the PBX can be told, tracking what was held;
// with final (no more messages, or no more room) it fails with
// ErrUnknownPBX when it cannot.
func (t *Tracker) decide(final bool, out func(bridge.Event)) {
	pbx, why := t.learn.pbx()
	if pbx == nil {
		if final {
			t.err = fmt.Errorf("%w: %s", ErrUnknownPBX, why)
			t.pending = nil
		}
		return
	}
	t.pbx, t.learn = pbx, nil
	pending := t.pending
	t.pending = nil
	for _, p := range pending {
		_ = t.process(p, out)
	}
}

// peerBook remembers what each peer of the PBX presented, for learning
// trunks.
type peerBook struct {
	on       bool
	external map[netip.AddrPort]bool
}

func (b *peerBook) init(on bool) {
	b.on = on
	b.external = map[netip.AddrPort]bool{}
}

// saw records that peer presented party number in a new dialog.
func (b *peerBook) saw(t *Tracker, peer netip.AddrPort, number string) {
	if !b.on || number == "" || t.isUser(number) || b.external[peer] {
		return
	}
	if len(b.external) >= 4096 { // bound the bookkeeping on a busy network
		clear(b.external)
	}
	b.external[peer] = true
}

func (b *peerBook) isTrunk(a netip.AddrPort) bool { return b.on && b.external[a] }

func (b *peerBook) trunks(name string) []Trunk {
	var ts []Trunk
	for a := range b.external {
		ts = append(ts, Trunk{Addr: AddrOf(a), Name: name})
	}
	slices.SortFunc(ts, func(x, y Trunk) int { return strings.Compare(x.Addr.String(), y.Addr.String()) })
	return ts
}

// pbxAgents are products that name themselves in User-Agent or Server.
var pbxAgents = []string{"asterisk", "freeswitch", "freepbx", "fpbx", "issabel", "3cx", "yeastar", "kamailio", "opensips", "yate"}

// namesPBX: v, a User-Agent or Server, names a PBX product: a sender
// that says so is a PBX.
func namesPBX(v []byte) bool {
	ascii := true
	for _, c := range v {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii {
		// Unicode case folding can make ASCII of what is not.
		v = bytes.ToLower(v)
	}
	for _, a := range pbxAgents {
		if indexFold(v, a) {
			return true
		}
	}
	return false
}

// indexFold: v holds lower (lower-case ASCII) in any ASCII case.
func indexFold(v []byte, lower string) bool {
	for i := 0; i+len(lower) <= len(v); i++ {
		j := 0
		for ; j < len(lower); j++ {
			c := v[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[j] {
				break
			}
		}
		if j == len(lower) {
			return true
		}
	}
	return false
}
