package ari

import (
	"encoding/binary"
	mathbits "math/bits"
)

// A validating JSON scanner for the fast decoder (decode.go). It checks the
// same grammar as encoding/json's checkValid and never decides anything it
// is unsure of: every function returns bail (-1) for input that is invalid
// or merely unusual, and the decoder then lets ari/v5 decide, so what is
// accepted here is a strict subset of what encoding/json accepts.

const bail = -1

// maxDepth bounds nesting in skipped values. encoding/json allows 10000;
// deeper (and stranger) input is left to it.
const maxDepth = 64

// at returns b[i], or 0 past the end: 0 is never valid where the scanner
// looks, so running off the end bails like any other bad byte.
func at(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString scans the string whose opening quote is b[i] and returns the
// index after its closing quote; esc and high say whether the content holds
// escapes or bytes of 0x80 and up. Runs of plain bytes are skipped eight at
// a time, straight to the first byte that needs a look.
func scanString(b []byte, i int) (end int, esc, high bool) {
	if at(b, i) != '"' {
		return bail, false, false
	}
	for i++; ; i++ {
		for i+8 <= len(b) {
			if m := special8(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += mathbits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i >= len(b) {
			return bail, false, false
		}
		// Tested by likelihood: the closing quote ends nearly every stop.
		switch c := b[i]; {
		case c == '"':
			return i + 1, esc, high
		case c < 0x20:
			return bail, false, false
		case c == '\\':
			esc = true
			i++
			switch at(b, i) {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for k := 1; k <= 4; k++ {
					if !isHex(at(b, i+k)) {
						return bail, false, false
					}
				}
				i += 4
			default:
				return bail, false, false
			}
		case c >= 0x80:
			high = true
		}
		// Else a plain byte among the last seven, looked at one by one.
	}
}

// special8 marks, with the high bit of its byte, each of the eight bytes
// in w (little-endian: the first byte lowest) that may be a quote, a
// backslash, a control character or 0x80 and up. The lowest mark is always
// on such a byte: a subtraction borrows only out of a byte that is one, so
// a wrong mark can only follow a right one.
func special8(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return (w | (w - 0x20*ones) | ((w ^ '"'*ones) - ones) | ((w ^ '\\'*ones) - ones)) & highs
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber scans a JSON number at b[i]; integer says it has neither a
// fraction nor an exponent.
func scanNumber(b []byte, i int) (end int, integer bool) {
	if at(b, i) == '-' {
		i++
	}
	switch c := at(b, i); {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		for i++; isDigit(at(b, i)); i++ {
		}
	default:
		return bail, false
	}
	integer = true
	if at(b, i) == '.' {
		integer = false
		i++
		if !isDigit(at(b, i)) {
			return bail, false
		}
		for isDigit(at(b, i)) {
			i++
		}
	}
	if c := at(b, i); c == 'e' || c == 'E' {
		integer = false
		i++
		if c := at(b, i); c == '+' || c == '-' {
			i++
		}
		if !isDigit(at(b, i)) {
			return bail, false
		}
		for isDigit(at(b, i)) {
			i++
		}
	}
	return i, integer
}

// scanInt scans a number that encoding/json would store in an int or int64
// field and returns its value. Fractions, exponents and anything that might
// not fit bail.
func scanInt(b []byte, i int) (end int, v int64) {
	start := i
	end, integer := scanNumber(b, i)
	if end == bail || !integer {
		return bail, 0
	}
	neg := b[start] == '-'
	if neg {
		start++
	}
	if end-start > 18 {
		return bail, 0
	}
	for _, c := range b[start:end] {
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return end, v
}

func literal(b []byte, i int, word string) int {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		return bail
	}
	return i + len(word)
}

// isNull reports whether the value at b[i] is the literal null.
func isNull(b []byte, i int) bool { return literal(b, i, "null") != bail }

// skipValue scans any JSON value at b[i] and returns the index after it.
func skipValue(b []byte, i, depth int) int {
	switch c := at(b, i); c {
	case '"':
		end, _, _ := scanString(b, i)
		return end
	case '{', '[':
		if depth >= maxDepth {
			return bail
		}
		if c == '{' {
			return skipObject(b, i, depth+1)
		}
		return skipArray(b, i, depth+1)
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	default:
		end, _ := scanNumber(b, i)
		return end
	}
}

func skipObject(b []byte, i, depth int) int {
	i = skipSpace(b, i+1)
	if at(b, i) == '}' {
		return i + 1
	}
	for {
		i, _, _ = scanString(b, i)
		if i == bail {
			return bail
		}
		i = skipSpace(b, i)
		if at(b, i) != ':' {
			return bail
		}
		i = skipValue(b, skipSpace(b, i+1), depth)
		if i == bail {
			return bail
		}
		if i = skipSpace(b, i); at(b, i) == '}' {
			return i + 1
		}
		if at(b, i) != ',' {
			return bail
		}
		i = skipSpace(b, i+1)
	}
}

func skipArray(b []byte, i, depth int) int {
	i = skipSpace(b, i+1)
	if at(b, i) == ']' {
		return i + 1
	}
	for {
		if i = skipValue(b, i, depth); i == bail {
			return bail
		}
		if i = skipSpace(b, i); at(b, i) == ']' {
			return i + 1
		}
		if at(b, i) != ',' {
			return bail
		}
		i = skipSpace(b, i+1)
	}
}

// The walk of an object's members, written out at each reader as
//
//	i, more := openObject(b, i)
//	for more {
//		key, v := memberKey(b, i)
//		if v == bail { return bail }
//		i = <the value at b[v], or skipMember(b, key, v)>
//		if i == bail { return bail }
//		i, more = nextMember(b, i)
//	}
//	return i
//
// rather than a function called back per member, so that nothing is
// called through a pointer and the readers' switches on the key inline.

// openObject starts the walk of the object (or null) at b[i]: more says
// there is a member at the index returned; else the index is after the
// object or null (or bail). A null object has no members.
func openObject(b []byte, i int) (j int, more bool) {
	switch at(b, i) {
	case 'n':
		return literal(b, i, "null"), false
	case '{':
	default:
		return bail, false
	}
	i = skipSpace(b, i+1)
	if at(b, i) == '}' {
		return i + 1, false
	}
	return i, true
}

// memberKey reads the key at b[i] and returns it with the index of its
// value, or v bail. Keys are given only in a form matched without doubt:
// no escapes, no bytes above ASCII (encoding/json matches keys without
// regard to case, and the fold rules, Unicode's included, are its
// business). A key in upper case can only be an unknown one: its reader
// passes it to skipMember, which bails.
func memberKey(b []byte, i int) (key []byte, v int) {
	end, esc, high := scanString(b, i)
	if end == bail || esc || high {
		return nil, bail
	}
	j := skipSpace(b, end)
	if at(b, j) != ':' {
		return nil, bail
	}
	return b[i+1 : end-1], skipSpace(b, j+1)
}

// skipMember skips the value at b[v] of a member its reader does not
// know. Unless the key is in lower case, encoding/json may take it for one
// it knows, and that is its to decide.
func skipMember(b, key []byte, v int) int {
	for _, c := range key {
		if 'A' <= c && c <= 'Z' {
			return bail
		}
	}
	return skipValue(b, v, 0)
}

// nextMember steps on from the end of a member's value at b[i]: more says
// there is another member at the index returned; else the index is after
// the object (or bail).
func nextMember(b []byte, i int) (j int, more bool) {
	switch i = skipSpace(b, i); at(b, i) {
	case '}':
		return i + 1, false
	case ',':
		return skipSpace(b, i+1), true
	}
	return bail, false
}
