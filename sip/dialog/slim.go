package dialog

import "bytes"

// readHeader: name (in lower case) is a header the tracker reads,
// parsed or asked for by name, compact forms included; every other header
// line is dropped before sipgo sees the message (see slim). A switch, not
// a map: it is asked for every header line of every message.
func readHeader(name string) bool {
	switch name {
	case "from", "f", "to", "t", "call-id", "i", "cseq", "content-length", "l",
		"refer-to", "r", "referred-by", "b", "contact", "m",
		"p-asserted-identity", "replaces", "diversion", "reason", "user-agent", "server":
		return true
	}
	return false
}

// slim copies msg into buf without the header lines the tracker never
// reads and returns the copy. sipgo turns each header line into a header
// value with two strings of its own, and Via, Record-Route, Allow,
// Supported and the like are most of the lines of a message: dropping
// them first halves the cost of a parse without changing what any parse
// gives. That holds because only lines that cannot change the outcome go:
// a complete line (CRLF-terminated, neither folded nor a fold) with a
// colon, whose name is not one sipgo parses, so sipgo would have kept it
// as text, never failed on it, and the tracker never asks for it. Every
// other line, the start line, the empty line and the body are copied as
// they are, so a message sipgo refuses is still refused.
func slim(buf, msg []byte) []byte {
	buf = buf[:0]
	i := bytes.Index(msg, []byte("\r\n"))
	if i < 0 {
		return append(buf, msg...)
	}
	// Kept lines are copied in runs, from kept to the next dropped line.
	off := i + 2 // after the start line
	kept := 0
	for off < len(msg) {
		j := bytes.IndexByte(msg[off:], '\r')
		if j < 0 || off+j+1 >= len(msg) || msg[off+j+1] != '\n' {
			break // no proper line end: sipgo decides
		}
		if j == 0 {
			break // end of the headers: the rest is the body
		}
		next := off + j + 2
		if droppable(msg[off:off+j], msg[next:]) {
			buf = append(buf, msg[kept:off]...)
			kept = next
		}
		off = next
	}
	return append(buf, msg[kept:]...)
}

// droppable: line (without its CRLF, followed by next) is one sipgo keeps
// as text and the tracker never reads.
func droppable(line, next []byte) bool {
	if line[0] == ' ' || line[0] == '\t' || len(next) > 0 && (next[0] == ' ' || next[0] == '\t') {
		return false // folded: sipgo joins a line with those that follow
	}
	c := bytes.IndexByte(line, ':')
	if c < 0 {
		return false
	}
	name := bytes.TrimSpace(line[:c])
	if len(name) == 0 || len(name) > 32 {
		return false
	}
	var low [32]byte
	for k, ch := range name {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		low[k] = ch
	}
	return !readHeader(string(low[:len(name)]))
}
