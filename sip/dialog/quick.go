package dialog

import (
	"bytes"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// quick parses p's message into p itself when it is one of those a PBX
// and its phones send every day (one header per line, <URI> addresses,
// no escapes), and gives up (false) on anything else, which sipgo then
// parses. It takes a message only where it is certain of sipgo's answer:
// the same values, and no error (a message sipgo refuses always goes to
// sipgo, which refuses it again). sipgo turns every header line into an
// object with strings of its own, and that was a third of the cost of a
// message; this reads the few values the tracker keeps straight from the
// payload. TestQuickParseRecorded, FuzzQuickParse and
// FuzzQuickParseFields hold it to sipgo's answer.
func (p *parsed) quick() bool {
	data := p.m.Payload
	if len(data) > sip.ParseMaxMessageLength || p.m.Time.IsZero() {
		return false
	}
	// Lines end at LF after CR. sipgo ends a line at its first CR and
	// fails when no LF follows; so, with lines split at LF, a CR anywhere
	// but before the LF of a line is a message to leave to it (counted
	// once, below, for the whole header section).
	eol := bytes.IndexByte(data, '\n')
	if eol < 1 || data[eol-1] != '\r' {
		return false
	}
	var q quickHeaders
	if !q.startLine(p, data[:eol-1]) {
		return false
	}
	off, lines := eol+1, 1
	for {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 1 || data[off+i-1] != '\r' {
			return false // no end of the headers, or a bare LF
		}
		line, next := data[off:off+i-1], off+i+1
		off = next
		lines++
		if len(line) == 0 {
			break
		}
		if next < len(data) && (data[next] == ' ' || data[next] == '\t') {
			return false // folded
		}
		if !q.header(p, line) {
			return false
		}
	}
	if bytes.Count(data[:off], []byte{'\r'}) != lines {
		return false
	}
	// sipgo takes Content-Length bytes of the body and fails when there
	// are fewer; without one, the body is the rest.
	if q.n[hContentLength] == 1 && q.contentLength > len(data)-off {
		return false
	}
	if q.n[hFrom] != 1 || q.n[hTo] != 1 || q.n[hCallID] != 1 || q.n[hCSeq] != 1 {
		return false
	}
	q.strings(p)
	return true
}

// startLine reads a request line ("INVITE sip:201@pbx SIP/2.0") or a
// status line ("SIP/2.0 180 Ringing"), as sipgo splits it: at the first
// two spaces.
func (q *quickHeaders) startLine(p *parsed, line []byte) bool {
	a, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return false
	}
	b, c, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return false
	}
	if string(c) == "SIP/2.0" {
		if len(a) == 0 {
			return false
		}
		for _, ch := range a {
			if ch < 'A' || ch > 'Z' {
				return false // sipgo upper-cases methods
			}
		}
		user, ok := uriUser(b)
		if !ok {
			return false
		}
		p.request, p.reqMethod = true, methodName(a)
		q.text[tRURIUser] = user
		return true
	}
	if string(a) != "SIP/2.0" || len(b) != 3 {
		return false
	}
	// sipgo takes a line whose third part is one word beginning with
	// "SIP" for a request, whatever the first part.
	if len(c) >= 3 && bytes.IndexByte(c, ' ') < 0 && (string(c[:3]) == "SIP" || string(c[:3]) == "sip") {
		return false
	}
	code := 0
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return false
		}
		code = code*10 + int(ch-'0')
	}
	if code >= 300 && code < 400 {
		return false // the tracker reads a redirect's Contact: sipgo's
	}
	p.status = code
	return true
}

// The headers quick counts: each must be there once.
const (
	hFrom = iota
	hTo
	hCallID
	hCSeq
	hContentLength
	hCount
)

// The values quick keeps as text, made strings together (strings).
const (
	tCallID = iota
	tFromTag
	tToTag
	tFromUser
	tFromName
	tToUser
	tRURIUser
	tPAI
	tReplaces
	tDiversion
	tCount
)

type quickHeaders struct {
	n             [hCount]int
	contentLength int
	text          [tCount][]byte
	diversion     bool // one was seen: the first counts
}

// strings sets p's text values from q's, in one allocation: a message
// has a handful, most of them a few bytes long.
func (q *quickHeaders) strings(p *parsed) {
	total := 0
	for _, b := range q.text {
		total += len(b)
	}
	var sb strings.Builder
	sb.Grow(total)
	for _, b := range q.text {
		sb.Write(b)
	}
	all := sb.String()
	var v [tCount]string
	off := 0
	for i, b := range q.text {
		v[i] = all[off : off+len(b)]
		off += len(b)
	}
	p.callID, p.fromTag, p.toTag = v[tCallID], v[tFromTag], v[tToTag]
	p.fromUser, p.fromName, p.toUser, p.ruriUser = v[tFromUser], v[tFromName], v[tToUser], v[tRURIUser]
	p.pai, p.replaces, p.diversion = v[tPAI], v[tReplaces], v[tDiversion]
}

// header reads one header line into p, as sipgo's parser (headerParsers)
// and its GetHeaders would give it. false: not certain.
func (q *quickHeaders) header(p *parsed, line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return false // sipgo fails
	}
	raw := bytes.TrimSpace(line[:colon])
	value := bytes.TrimSpace(line[colon+1:])
	if len(raw) > 32 {
		return true // none of the headers read: sipgo keeps it as text
	}
	var buf [32]byte
	name := buf[:len(raw)]
	for i, ch := range raw {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		name[i] = ch
	}
	h := -1
	switch string(name) {
	case "from", "f":
		h = hFrom
		if q.n[h] == 0 && !q.from(value) {
			return false
		}
	case "to", "t":
		h = hTo
		if q.n[h] == 0 && !q.to(value) {
			return false
		}
	case "call-id", "i":
		h = hCallID
		if len(value) == 0 {
			return false
		}
		q.text[tCallID] = value
	case "cseq":
		h = hCSeq
		if !p.cseqValue(value) {
			return false
		}
	case "content-length", "l":
		h = hContentLength
		n, ok := digits(value, 10)
		if !ok || n > 1<<32-1 {
			return false
		}
		q.contentLength = int(n)
	case "refer-to", "referred-by":
		return false // parsed by sipgo, printed back: left to it
	case "p-asserted-identity":
		if !p.hasPAI {
			q.text[tPAI], p.hasPAI = value, true
		}
	case "replaces":
		if !p.hasReplaces {
			q.text[tReplaces], p.hasReplaces = value, true
		}
	case "diversion":
		if !q.diversion {
			q.text[tDiversion], q.diversion = value, true
		}
	case "reason":
		p.reasons = append(p.reasons, string(value))
	case "user-agent", "server":
		p.saysPBX = p.saysPBX || namesPBX(value)
	}
	if h >= 0 {
		if q.n[h]++; q.n[h] > 1 {
			return false // sipgo keeps the last one of each
		}
	}
	return true
}

func (q *quickHeaders) from(v []byte) bool {
	display, user, tag, ok := nameAddr(v)
	if !ok {
		return false
	}
	q.text[tFromName], q.text[tFromUser], q.text[tFromTag] = display, user, tag
	return true
}

func (q *quickHeaders) to(v []byte) bool {
	_, user, tag, ok := nameAddr(v)
	if !ok {
		return false
	}
	q.text[tToUser], q.text[tToTag] = user, tag
	return true
}

// cseqValue reads "1 INVITE" as sipgo does: the number up to the first
// blank, the method everything after it.
func (p *parsed) cseqValue(v []byte) bool {
	ind := bytes.IndexAny(v, " \t")
	if ind < 1 || len(v)-ind < 2 {
		return false
	}
	n, ok := digits(v[:ind], 10)
	if !ok || n > 2147483647 {
		return false
	}
	p.cseq, p.method = uint32(n), methodName(v[ind+1:])
	return true
}

// digits is the value of 1 to max decimal digits.
func digits(b []byte, max int) (uint64, bool) {
	if len(b) == 0 || len(b) > max {
		return 0, false
	}
	var n uint64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		n = n*10 + uint64(ch-'0')
	}
	return n, true
}

// methodName returns the common methods without allocating.
func methodName(b []byte) string {
	switch string(b) {
	case "INVITE":
		return "INVITE"
	case "ACK":
		return "ACK"
	case "BYE":
		return "BYE"
	case "CANCEL":
		return "CANCEL"
	case "OPTIONS":
		return "OPTIONS"
	case "REGISTER":
		return "REGISTER"
	case "NOTIFY":
		return "NOTIFY"
	case "SUBSCRIBE":
		return "SUBSCRIBE"
	case "REFER":
		return "REFER"
	case "UPDATE":
		return "UPDATE"
	case "PRACK":
		return "PRACK"
	case "INFO":
		return "INFO"
	case "MESSAGE":
		return "MESSAGE"
	case "PUBLISH":
		return "PUBLISH"
	}
	return string(b)
}

// nameAddr reads `"Name" <sip:user@host>;tag=x` or `Name <...>` or
// `<...>` as sipgo's ParseAddressValue does; anything else (a bare URI,
// escapes in the name, no brackets) is left to it.
func nameAddr(v []byte) (display, user, tag []byte, ok bool) {
	var rest []byte
	if len(v) == 0 {
		return nil, nil, nil, false
	}
	if v[0] == '"' {
		q := bytes.IndexByte(v[1:], '"')
		if q < 0 {
			return nil, nil, nil, false
		}
		display = v[1 : 1+q]
		if bytes.IndexByte(display, '\\') >= 0 {
			return nil, nil, nil, false
		}
		rest = bytes.TrimLeft(v[2+q:], " \t")
		if len(rest) == 0 || rest[0] != '<' {
			return nil, nil, nil, false
		}
		rest = rest[1:]
	} else {
		i := bytes.IndexAny(v, "\"<;")
		if i < 0 || v[i] != '<' {
			return nil, nil, nil, false
		}
		display, rest = bytes.TrimSpace(v[:i]), v[i+1:]
	}
	j := bytes.IndexByte(rest, '>')
	if j < 0 {
		return nil, nil, nil, false
	}
	if user, ok = uriUser(rest[:j]); !ok {
		return nil, nil, nil, false
	}
	return display, user, paramTag(rest[j+1:]), true
}

// paramTag is the tag parameter after an address's '>' as sipgo reads
// parameters: split at ';', each at its last '=', the last "tag" winning,
// a bare "tag" an empty one.
func paramTag(s []byte) []byte {
	var tag []byte
	for {
		seg, after, more := bytes.Cut(s, []byte{';'})
		if eq := bytes.LastIndexByte(seg, '='); eq > 0 {
			if string(seg[:eq]) == "tag" {
				tag = seg[eq+1:]
			}
		} else if string(seg) == "tag" {
			tag = nil
		}
		if !more {
			return tag
		}
		s = after
	}
}

// uriUser is the user part of a sip: or sips: URI as sipgo's ParseUri
// gives it, for URIs it certainly accepts: a host name or IPv4 address,
// a port of digits, no password; parameters and headers are not read
// (sipgo never fails on them).
func uriUser(u []byte) ([]byte, bool) {
	c := bytes.IndexByte(u, ':')
	if c < 3 || c > 4 {
		return nil, false
	}
	for i, ch := range u[:c] {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != "sips"[i] {
			return nil, false
		}
	}
	rest := u[c+1:]
	rest, _ = bytes.CutPrefix(rest, []byte("//"))
	if bytes.IndexByte(rest, '[') >= 0 {
		return nil, false // IPv6
	}
	var user []byte
	host := rest
	if at := bytes.IndexByte(rest, '@'); at >= 0 {
		user, host = rest[:at], rest[at+1:]
		if bytes.IndexByte(user, ':') >= 0 {
			return nil, false // a password
		}
	}
	end := bytes.IndexAny(host, ":;?")
	name := host
	if end >= 0 {
		name = host[:end]
	}
	if len(name) == 0 {
		return nil, false
	}
	for _, ch := range name {
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '.' || ch == '-' || ch == '_') {
			return nil, false
		}
	}
	if end >= 0 && host[end] == ':' {
		port := host[end+1:]
		if e := bytes.IndexAny(port, ";?"); e >= 0 {
			port = port[:e]
		}
		if _, ok := digits(port, 5); !ok {
			return nil, false
		}
	}
	return user, true
}
