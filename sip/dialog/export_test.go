package dialog

import (
	"errors"
	"fmt"
	"time"
)

// ParseBoth parses payload the way Feed does when sipgo parses it (a
// slim copy) and in full, and describes what the tracker reads from each,
// error class included.
func ParseBoth(payload []byte) (slimmed, full string) {
	t := New(Config{})
	m := Message{Time: time.Unix(1, 0), Payload: payload}
	p, err := t.parseSIP(m)
	slimmed = describe(p, err)
	p, err = t.parseBytes(m, payload)
	return slimmed, describe(p, err)
}

// ParseQuick parses payload with the tracker's own parser (ok: it took
// the message) and with sipgo, and describes what the tracker reads from
// each.
func ParseQuick(payload []byte) (quick, sipgo string, ok bool) {
	t := New(Config{})
	m := Message{Time: time.Unix(1, 0), Payload: payload}
	q := &parsed{m: m}
	ok = q.quick()
	p, err := t.parseSIP(m)
	if !ok {
		return "", describe(p, err), false
	}
	return describe(q, nil), describe(p, err), true
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
	c := *p
	c.m = Message{}
	return fmt.Sprintf("%+v", c)
}

// ParseEach parses every payload the way Feed does (quick, sipgo when it
// must, each record reused) or, with sipgoOnly, with sipgo only; it
// returns how many parsed.
func ParseEach(ps [][]byte, sipgoOnly bool) int {
	t := New(Config{})
	n := 0
	for _, payload := range ps {
		m := Message{Time: time.Unix(1, 0), Payload: payload}
		var p *parsed
		var err error
		if sipgoOnly {
			p, err = t.parseSIP(m)
		} else {
			p, err = t.parse(m)
		}
		if err == nil {
			n++
			t.spare = p // as Feed does with a record it does not keep
		}
	}
	return n
}
