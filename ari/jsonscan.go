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

// Byte classes inside a JSON string.
const (
	sPlain   = iota
	sQuote   // the closing quote
	sEscape  // a backslash
	sControl // below 0x20: not allowed unescaped
	sHigh    // 0x80 and up: part of a UTF-8 sequence
)

var strClass = func() (t [256]uint8) {
	for c := range 0x20 {
		t[c] = sControl
	}
	t['"'] = sQuote
	t['\\'] = sEscape
	for c := 0x80; c < 0x100; c++ {
		t[c] = sHigh
	}
	return t
}()

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
		switch strClass[b[i]] {
		case sPlain:
		case sQuote:
			return i + 1, esc, high
		case sHigh:
			high = true
		case sEscape:
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
		default: // sControl
			return bail, false, false
		}
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

// objectKeys walks the object at b[i], calling field with each key and the
// index of its value; field returns the index after the value (or bail).
// Keys are given only in the one form matched without doubt: no escapes,
// no bytes above ASCII, no upper case (encoding/json matches keys without
// regard to case, and the fold rules are its business). Such a key bails.
// A null object calls nothing. It returns the index after the object.
func objectKeys(b []byte, i int, field func(key []byte, v int) int) int {
	if at(b, i) == 'n' {
		return literal(b, i, "null")
	}
	if at(b, i) != '{' {
		return bail
	}
	i = skipSpace(b, i+1)
	if at(b, i) == '}' {
		return i + 1
	}
	for {
		end, esc, high := scanString(b, i)
		if end == bail || esc || high {
			return bail
		}
		key := b[i+1 : end-1]
		for _, c := range key {
			if 'A' <= c && c <= 'Z' {
				return bail
			}
		}
		i = skipSpace(b, end)
		if at(b, i) != ':' {
			return bail
		}
		if i = field(key, skipSpace(b, i+1)); i == bail {
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
