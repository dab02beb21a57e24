package ari

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// The scanner is checked against encoding/json itself: what it accepts
// must be valid JSON that encoding/json reads the way the Decoder takes it.

// FuzzScanString: scanString ends a string exactly where encoding/json
// does, refuses exactly the strings encoding/json refuses, and says truly
// whether the content holds escapes or high bytes; a string without them
// reads as its raw bytes.
func FuzzScanString(f *testing.F) {
	for _, s := range []string{
		`"`, `abc"`, `Jörg Müller","number":"+49"`, `a\u00e4\n\"b"`, `\uZZZZ"`, "tab\there\"",
		`0123456789abcdef0123456789"`, `01234567\"89abcdef"`, `1234567"`, "12345678\xff\"", `\`,
		`PJSIP/pstn-00000022","state":"Ring"`, `2026-11-21T16:18:47.467+0000"}`,
	} {
		f.Add([]byte(s))
	}
	for _, l := range recordingLines(f)[:20] {
		f.Add(l[bytes.IndexByte(l, '"')+1:])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// An odd offset, so the eight-byte reads start unaligned.
		b := append([]byte(`x"`), data...)
		end, esc, high := scanString(b, 1)
		want := bail
		for k := 2; k < len(b); k++ {
			if b[k] == '"' && json.Valid(b[1:k+1]) {
				want = k + 1
				break
			}
		}
		if end != want {
			t.Fatalf("scanString(%q) = %d, encoding/json ends it at %d", b[1:], end, want)
		}
		if end == bail {
			return
		}
		content := b[2 : end-1]
		if wesc := bytes.IndexByte(content, '\\') >= 0; esc != wesc {
			t.Fatalf("scanString(%q): esc %v, want %v", b[1:end], esc, wesc)
		}
		whigh := false
		for _, c := range content {
			whigh = whigh || c >= 0x80
		}
		if high != whigh {
			t.Fatalf("scanString(%q): high %v, want %v", b[1:end], high, whigh)
		}
		if !esc && utf8.Valid(content) {
			var s string
			if err := json.Unmarshal(b[1:end], &s); err != nil || s != string(content) {
				t.Fatalf("%q reads as %q (%v), not as its bytes", b[1:end], s, err)
			}
		}
	})
}

// FuzzSkipValue: skipValue accepts only valid JSON values, and every valid
// value within its depth bound, ending where the value ends.
func FuzzSkipValue(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `null`, `true`, `-0.5e+3`, `"s"`, `{"a":[1,{"b":null}],"c":"\u00e4"}`, `[1,]`, `{"a" 1}`, `01`,
	} {
		f.Add([]byte(s))
	}
	for _, l := range recordingLines(f)[:20] {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end := skipValue(b, 0, 0)
		if end != bail {
			if !json.Valid(b[:end]) {
				t.Fatalf("skipValue accepted %q, which is not JSON", b[:end])
			}
			return
		}
		if len(b) == 0 || skipSpace(b, 0) != 0 || !json.Valid(b) || depth(b) >= maxDepth {
			return
		}
		t.Fatalf("skipValue refused %q, which is JSON", b)
	})
}

// depth is the deepest nesting of the valid JSON b.
func depth(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	d, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil { // io.EOF at the end
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			d++
			deepest = max(deepest, d)
		case json.Delim('}'), json.Delim(']'):
			d--
		}
	}
}
