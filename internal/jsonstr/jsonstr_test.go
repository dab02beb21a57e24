package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

var cases = []string{
	"", "plain", `quote " and \ backslash`, "<a href=\"x\">&amp;</a>", "tab\tnew\nline\r\b\f",
	"\x00\x01\x1f\x7f", "ä ö € 😀", "line\u2028para\u2029", "bad \xff utf-8 \xc3", "\xe2\x80",
}

// Append gives json.Marshal's bytes.
func TestAppendIsMarshal(t *testing.T) {
	for _, s := range cases {
		want, _ := json.Marshal(s)
		if got := Append([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Errorf("%q: %s, want %s", s, got, want)
		}
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range cases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := Append(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: %s, want %s", s, got, want)
		}
	})
}
