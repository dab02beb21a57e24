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
