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

// parseHeaders parses a message the way goami2.Parse does, into a slice
// of just its size: goami2 starts every message with room for 32 headers
// (1 KiB), most of the live client's allocation. It takes only the plain
// form: header lines "Name: value" ended with CRLF, then one blank line
// ending the input; ok is false for anything else (a header goami2 would
// refuse, a stray CR, bytes after the blank line), which parse then
// handles, so the two never disagree.
func parseHeaders(s string) (headers, bool) {
	hs := make(headers, 0, max(0, strings.Count(s, "\n")-1))
	for {
		i := strings.IndexByte(s, '\n')
		if i < 1 || s[i-1] != '\r' {
			return nil, false
		}
		line := s[:i-1]
		s = s[i+1:]
		if line == "" {
			return hs, len(hs) > 0 && s == ""
		}
		c := strings.IndexByte(line, ':')
		if c < 2 || !headerName(line[:c]) {
			return nil, false
		}
		v := strings.TrimLeft(line[c+1:], " ")
		if strings.IndexByte(v, '\r') >= 0 {
			return nil, false
		}
		hs = append(hs, goami2.Header{Name: line[:c], Value: v})
	}
}

// headerName says whether goami2 takes name as a header name: a letter or
// digit, then at least one of those or "-/()@;".
func headerName(name string) bool {
	for i := 0; i < len(name); i++ {
		switch b := name[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case i > 0 && strings.IndexByte("-/()@;", b) >= 0:
		default:
			return false
		}
	}
	return true
}
