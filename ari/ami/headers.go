package ami

import (
	"strings"

	"github.com/staskobzar/goami2"
)

// parseFast parses a framed message with parseHeaders, and with parse
// (goami2) when parseHeaders does not take it.
func parseFast(pkt []byte) (headers, error) {
	if hs, ok := parseHeaders(string(pkt)); ok {
		return hs, nil
	}
	m, err := parse(pkt)
	if err != nil {
		return nil, err
	}
	return m.Headers(), nil
}

// parseReuse is parseFast into buf's room, for a message whose headers
// are done with before the next is parsed; it returns the headers and the
// buffer for the next. A buffer grown past what real messages need is let
// go, so one huge message does not hold its size for the connection's life.
func parseReuse(pkt []byte, buf headers) (hs, next headers, err error) {
	if cap(buf) > 256 {
		buf = nil
	}
	if hs, ok := appendHeaders(buf[:0], string(pkt)); ok {
		return hs, hs, nil
	}
	m, err := parse(pkt)
	if err != nil {
		return nil, buf, err
	}
	return m.Headers(), buf, nil
}

// parseHeaders parses a message the way goami2.Parse does, into a slice
// of just its size: goami2 starts every message with room for 32 headers
// (1 KiB), most of the live client's allocation. It takes only the plain
// form: header lines "Name: value" ended with CRLF, then one blank line
// ending the input; ok is false for anything else (a header goami2 would
// refuse, a stray CR, bytes after the blank line), which parse then
// handles, so the two never disagree.
func parseHeaders(s string) (headers, bool) {
	return appendHeaders(make(headers, 0, max(0, strings.Count(s, "\n")-1)), s)
}

// appendHeaders is parseHeaders appending the headers to hs, which must
// be empty.
func appendHeaders(hs headers, s string) (headers, bool) {
	lfs := strings.Count(s, "\n")
	for {
		if len(s) >= 2 && s[0] == '\r' && s[1] == '\n' {
			// The blank line. Each header's line ended at the first CR,
			// followed by an LF; if there was an LF anywhere else (in a
			// value, or a bare one), there are more LFs than lines.
			return hs, len(hs) > 0 && len(s) == 2 && lfs == len(hs)+1
		}
		c := 0
		for c < len(s) && nameByte[s[c]]&(1<<min(c, 1)) != 0 {
			c++
		}
		if c < 2 || c == len(s) || s[c] != ':' {
			return nil, false
		}
		name := s[:c]
		v := c + 1
		for v < len(s) && s[v] == ' ' {
			v++
		}
		e := strings.IndexByte(s[v:], '\r')
		if e < 0 || v+e+1 == len(s) || s[v+e+1] != '\n' {
			return nil, false
		}
		hs = append(hs, goami2.Header{Name: name, Value: s[v : v+e]})
		s = s[v+e+2:]
	}
}

// nameByte says, for each byte, whether goami2 takes it first in a header
// name (bit 0: a letter or digit) and after the first (bit 1: those, or
// one of "-/()@;").
var nameByte = func() (t [256]uint8) {
	for b := range 256 {
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
			t[b] = 3
		case strings.IndexByte("-/()@;", byte(b)) >= 0:
			t[b] = 2
		}
	}
	return t
}()
