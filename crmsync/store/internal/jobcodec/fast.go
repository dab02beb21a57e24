package jobcodec

import (
	"time"
	"unicode/utf8"

	"github.com/callbridge/callbridge/bridge"
)

// fast reads a record of exactly the shape Encode writes for an activity:
// the keys in Encode's order, the activity's fields in the order
// bridge.Activity's MarshalJSON writes them, no white space, times as
// bridge.TimeFormat in UTC. It reads what json.Unmarshal would read from
// the same bytes; ok is false for anything else (a task, unknown or
// reordered keys, white space, exponents, surrogate escapes, invalid UTF-8,
// a record Decode rejects), which Decode then hands to encoding/json, so
// the fast path decides nothing on its own: it only skips the reflection.
func fast(b []byte) (r Record, ok bool) {
	// One string for the whole record: every unescaped field is a slice
	// of it, so a record costs one allocation for its text, not twenty.
	s := scan{b: b, s: string(b)}
	a := &r.Activity
	s.lit(`{"v":1,"a":{"id":`)
	a.ID = s.str()
	s.lit(`,"call_id":`)
	a.CallID = s.str()
	s.lit(`,"user":`)
	a.User = s.str()
	if s.opt(`,"user_name":`) {
		a.UserName = s.str()
	}
	s.lit(`,"local_number":`)
	a.LocalNumber = s.str()
	s.lit(`,"direction":`)
	a.Direction = bridge.Direction(s.str())
	s.lit(`,"internal":`)
	a.Internal = s.boolean()
	s.lit(`,"state":`)
	a.State = bridge.Outcome(s.str())
	s.lit(`,"reason":`)
	a.Reason = bridge.Reason(s.str())
	s.lit(`,"remote_number":`)
	a.RemoteNumber = s.str()
	if s.opt(`,"remote_e164":`) {
		a.RemoteE164 = s.str()
	}
	if s.opt(`,"remote_name":`) {
		a.RemoteName = s.str()
	}
	if s.opt(`,"ddi":`) {
		a.DDI = s.str()
	}
	s.lit(`,"ring_seconds":`)
	a.RingSeconds = s.seconds()
	s.lit(`,"talk_seconds":`)
	a.TalkSeconds = s.seconds()
	if s.opt(`,"transferred_by":`) {
		a.TransferredBy = s.str()
	}
	if s.opt(`,"forwarded_by":`) {
		a.ForwardedBy = s.str()
	}
	s.lit(`,"privacy":`)
	a.Privacy = s.str()
	s.lit(`,"source":`)
	a.Source = s.str()
	s.lit(`,"started_at":`)
	a.StartedAt = s.time()
	if s.opt(`,"answered_at":`) {
		a.AnsweredAt = s.time()
	}
	s.lit(`,"ended_at":`)
	a.EndedAt = s.time()
	s.lit(`}`)
	if s.opt(`,"o":`) {
		r.Open = s.boolean()
	}
	// A task ("k") is left to encoding/json: tasks are rare, and their
	// shape is crmsync's to change.
	if s.opt(`,"n":`) {
		n := s.integer(false)
		if int64(int(n)) != n { // beyond a 32-bit int: json's error, not ours
			s.fail()
		}
		r.Attempt = int(n)
	}
	if s.opt(`,"e":`) {
		r.LastError = s.str()
	}
	s.lit(`,"t":`)
	r.EnqueuedAt = time.UnixMilli(s.integer(true)).UTC()
	s.lit(`}`)
	if s.bad || s.i != len(b) || a.ID == "" {
		return Record{}, false
	}
	return r, true
}

// scan walks b; once bad is set every step is a no-op returning zero, so
// fast reads straight down and checks once at the end.
type scan struct {
	b   []byte
	s   string // b as a string, sliced for unescaped values
	i   int
	bad bool
}

func (s *scan) fail() { s.bad = true }

// lit consumes w or fails.
func (s *scan) lit(w string) {
	if !s.opt(w) {
		s.fail()
	}
}

// opt consumes w if the input continues with it.
func (s *scan) opt(w string) bool {
	if s.bad || len(s.s)-s.i < len(w) || s.s[s.i:s.i+len(w)] != w {
		return false
	}
	s.i += len(w)
	return true
}

func (s *scan) boolean() bool {
	switch {
	case s.opt("true"):
		return true
	case s.opt("false"):
		return false
	}
	s.fail()
	return false
}

// str reads a string as encoding/json does: raw bytes must be valid UTF-8
// (json would replace invalid bytes with U+FFFD; that is left to it) and
// \u escapes must not be surrogates (json pairs them up; left to it too).
func (s *scan) str() string {
	if s.bad || s.i >= len(s.b) || s.b[s.i] != '"' {
		s.fail()
		return ""
	}
	start := s.i + 1
	esc, high := false, false
	i := start
	for ; i < len(s.b); i++ {
		c := s.b[i]
		if c == '"' {
			break
		}
		switch {
		case c < 0x20:
			s.fail()
			return ""
		case c == '\\':
			esc = true
			i++ // the escape's letter; checked when unquoting
		case c >= utf8.RuneSelf:
			high = true
		}
	}
	if i >= len(s.b) || high && !utf8.Valid(s.b[start:i]) {
		s.fail()
		return ""
	}
	s.i = i + 1
	if !esc {
		return s.s[start:i]
	}
	v, ok := unquote(s.b[start:i])
	if !ok {
		s.fail()
	}
	return v
}

// unquote resolves the escapes of a string's content.
func unquote(b []byte) (string, bool) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(b) {
			return "", false
		}
		switch b[i] {
		case '"', '\\', '/':
			out = append(out, b[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+4 >= len(b) {
				return "", false
			}
			var r rune
			for _, h := range b[i+1 : i+5] {
				d, ok := hex(h)
				if !ok {
					return "", false
				}
				r = r<<4 | d
			}
			if 0xD800 <= r && r < 0xE000 {
				return "", false
			}
			out = utf8.AppendRune(out, r)
			i += 4
		default:
			return "", false
		}
	}
	return string(out), true
}

func hex(c byte) (rune, bool) {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0'), true
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10), true
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10), true
	}
	return 0, false
}

func digit(c byte) bool { return '0' <= c && c <= '9' }

// integer reads a JSON integer of at most 18 digits (so it fits an int64
// without checking), with a minus sign only if signed.
func (s *scan) integer(signed bool) int64 {
	if s.bad {
		return 0
	}
	neg := signed && s.opt("-")
	start, v := s.i, int64(0)
	for s.i < len(s.b) && digit(s.b[s.i]) && s.i-start < 19 {
		v = v*10 + int64(s.b[s.i]-'0')
		s.i++
	}
	n := s.i - start
	switch {
	case n == 0, n > 18, n > 1 && s.b[start] == '0', neg && v == 0:
		s.fail()
		return 0
	case neg:
		return -v
	}
	return v
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// seconds reads a non-negative decimal without exponent of at most 15
// significant digits. Both the digits and the power of ten are then exact
// float64s, so one division rounds correctly and gives what
// strconv.ParseFloat (and so json) gives.
func (s *scan) seconds() float64 {
	if s.bad {
		return 0
	}
	var m uint64
	digits, frac := 0, -1
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		switch {
		case digit(c):
			m = m*10 + uint64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
			if digits > 15 {
				s.fail()
				return 0
			}
			continue
		case c == '.' && frac < 0 && s.i > start:
			frac = 0
			continue
		}
		break
	}
	intLen := s.i - start
	if frac >= 0 {
		intLen -= frac + 1
	}
	if intLen == 0 || frac == 0 || intLen > 1 && s.b[start] == '0' {
		s.fail()
		return 0
	}
	if frac <= 0 {
		return float64(m)
	}
	return float64(m) / pow10[frac]
}

// time reads bridge.TimeFormat in UTC ("2006-01-02T15:04:05.000Z") the way
// time.Parse(time.RFC3339Nano, …) does, which is what bridge.Activity's
// UnmarshalJSON calls: the same range checks, then time.Date in UTC.
func (s *scan) time() time.Time {
	const n = len(`"2006-01-02T15:04:05.000Z"`)
	if s.bad || len(s.b)-s.i < n {
		s.fail()
		return time.Time{}
	}
	b := s.b[s.i : s.i+n]
	if b[0] != '"' || b[5] != '-' || b[8] != '-' || b[11] != 'T' || b[14] != ':' || b[17] != ':' || b[20] != '.' || b[24] != 'Z' || b[25] != '"' {
		s.fail()
		return time.Time{}
	}
	num := func(i, k int) int {
		v := 0
		for _, c := range b[i : i+k] {
			if !digit(c) {
				s.fail()
				return 0
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(1, 4), num(6, 2), num(9, 2)
	hour, min, sec, ms := num(12, 2), num(15, 2), num(18, 2), num(21, 3)
	if s.bad || month < 1 || month > 12 || day < 1 || hour > 23 || min > 59 || sec > 59 {
		s.fail()
		return time.Time{}
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, ms*1_000_000, time.UTC)
	if t.Day() != day { // past the month's end: time.Date rolled it over, Parse rejects it
		s.fail()
		return time.Time{}
	}
	s.i += n
	return t
}
