package dialog

import (
	"fmt"

	"github.com/emiago/sipgo/sip"
)

// parsed is what the tracker reads from one message: nothing else of the
// message is kept, so the two parsers (quick.go's and sipgo's) can be
// held to giving the same value.
type parsed struct {
	m Message

	request   bool
	reqMethod string // the request's method (start line), upper case
	status    int    // the response's status code
	ruriUser  string // the request URI's user part
	toUser    string // the To URI's user part

	callID   string
	fromTag  string
	toTag    string
	fromUser string
	fromName string
	cseq     uint32
	method   string // the CSeq method

	// The text of the headers the tracker reads as text: the first of
	// each (has* tells an empty one from none), every Reason.
	pai, replaces, diversion string
	hasPAI, hasReplaces      bool
	reasons                  []string
	// referTo is the first Refer-To as sipgo prints it back.
	referTo    string
	hasReferTo bool
	// contactUser is the user of the first Contact of a 3xx response,
	// the only one the tracker reads (a redirect's target).
	contactUser string
	// saysPBX: a User-Agent or Server names a PBX product (see pbxAgents).
	saysPBX bool
	// kept: the tracker holds on to this record (to learn the PBX, or a
	// suspect dialog's); otherwise it is reused for the next message.
	kept bool
}

// record returns a blank record of m: the spare one when there is one.
func (t *Tracker) record(m Message) *parsed {
	p := t.spare
	if p == nil {
		return &parsed{m: m}
	}
	t.spare = nil
	*p = parsed{m: m}
	return p
}

func (t *Tracker) parse(m Message) (*parsed, error) {
	p := t.record(m)
	if p.quick() {
		return p, nil
	}
	t.spare = p
	return t.parseSIP(m)
}

// parseSIP parses m with sipgo, on a slim copy of the payload.
func (t *Tracker) parseSIP(m Message) (*parsed, error) {
	data := m.Payload
	// sipgo refuses a message over its limit; a slim copy could be under it.
	if len(data) <= sip.ParseMaxMessageLength {
		t.slimmed = slim(t.slimmed, data)
		data = t.slimmed
	}
	return t.parseBytes(m, data)
}

// parseBytes parses data, m's payload or its slim copy, with sipgo.
func (t *Tracker) parseBytes(m Message, data []byte) (*parsed, error) {
	msg, err := t.parser.ParseSIP(data)
	if err != nil {
		t.stats.Malformed++
		return nil, fmt.Errorf("%w: %v", ErrParse, err)
	}
	p := t.record(m)
	cid, from, to, cs := msg.CallID(), msg.From(), msg.To(), msg.CSeq()
	if cid == nil || from == nil || to == nil || cs == nil || *cid == "" {
		t.stats.Malformed++
		return nil, ErrHeaders
	}
	switch v := msg.(type) {
	case *sip.Request:
		p.request, p.reqMethod, p.ruriUser = true, string(v.Method), v.Recipient.User
		if rt := v.GetHeader("Refer-To"); rt != nil {
			p.referTo, p.hasReferTo = rt.Value(), true
		}
	case *sip.Response:
		p.status = v.StatusCode
		if p.status >= 300 && p.status < 400 {
			if c := v.Contact(); c != nil {
				p.contactUser = c.Address.User
			}
		}
	default:
		t.stats.Malformed++
		return nil, ErrParse
	}
	if m.Time.IsZero() {
		t.stats.BadTime++
		return nil, ErrTime
	}
	p.callID = string(*cid)
	p.fromTag, _ = from.Params.Get("tag")
	p.toTag, _ = to.Params.Get("tag")
	p.fromUser, p.fromName = from.Address.User, from.DisplayName
	p.toUser = to.Address.User
	p.cseq, p.method = cs.SeqNo, string(cs.MethodName)
	if hs := msg.GetHeaders("P-Asserted-Identity"); len(hs) > 0 {
		p.pai, p.hasPAI = hs[0].Value(), true
	}
	if hs := msg.GetHeaders("Replaces"); len(hs) > 0 {
		p.replaces, p.hasReplaces = hs[0].Value(), true
	}
	if hs := msg.GetHeaders("Diversion"); len(hs) > 0 {
		p.diversion = hs[0].Value()
	}
	for _, h := range msg.GetHeaders("Reason") {
		p.reasons = append(p.reasons, h.Value())
	}
	for _, name := range []string{"User-Agent", "Server"} {
		for _, h := range msg.GetHeaders(name) {
			p.saysPBX = p.saysPBX || namesPBX([]byte(h.Value()))
		}
	}
	return p, nil
}

// headerParsers are the headers sipgo parses as a message is read: those
// the tracker reads, and Content-Length, which bounds the body. The rest
// stay text until asked for (sipgo parses them lazily); Via, Contact and
// the route sets are most of the parsing cost of a message and the
// tracker reads none of them, so a malformed one no longer makes a
// message malformed either: a passive listener has no reason to refuse it.
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
