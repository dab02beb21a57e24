package dialog

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// ParseBoth parses payload the way Feed does (a slim copy) and in full,
// and describes what the tracker reads from each, error class included.
func ParseBoth(payload []byte) (slimmed, full string) {
	t := New(Config{})
	m := Message{Time: time.Unix(1, 0), Payload: payload}
	p, err := t.parse(m)
	slimmed = describe(p, err)
	p, err = t.parseBytes(m, payload)
	return slimmed, describe(p, err)
}

func describe(p *parsed, err error) string {
	if err != nil {
		for _, e := range []error{ErrParse, ErrHeaders, ErrTime} {
			if errors.Is(err, e) {
				return "error: " + e.Error()
			}
		}
		return "error: other: " + err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "call-id %q from-tag %q to-tag %q from %q %q cseq %d %q\n",
		p.callID, p.fromTag, p.toTag, p.fromUser, p.fromName, p.cseq, p.method)
	var msg sip.Message
	if p.req != nil {
		msg = p.req
		fmt.Fprintf(&b, "request %s %s\n", p.req.Method, p.req.Recipient.String())
	} else {
		msg = p.res
		fmt.Fprintf(&b, "response %d %q\n", p.res.StatusCode, p.res.Reason)
		if c := p.res.Contact(); c != nil {
			fmt.Fprintf(&b, "contact %s\n", c.Value())
		}
	}
	fmt.Fprintf(&b, "from %s\nto %s\n", msg.From().Value(), msg.To().Value())
	for _, n := range []string{"from", "f", "to", "t", "call-id", "i", "cseq", "content-length", "l",
		"refer-to", "r", "referred-by", "b", "contact", "m",
		"p-asserted-identity", "replaces", "diversion", "reason", "user-agent", "server"} {
		for _, h := range msg.GetHeaders(n) {
			fmt.Fprintf(&b, "%s: %s\n", n, h.Value())
		}
	}
	fmt.Fprintf(&b, "body %q\n", msg.Body())
	return b.String()
}
