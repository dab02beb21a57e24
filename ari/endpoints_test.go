package ari

import (
	"strings"
	"testing"
)

func TestCallerIDName(t *testing.T) {
	tests := []struct{ cid, ext, want string }{
		{`"Alice Andersson" <101>`, "101", "Alice Andersson"},
		{`Bob <102>`, "102", "Bob"},
		{`<103>`, "103", ""},
		{`103`, "103", ""},
		{`"" <104>`, "104", ""},
		{`"+358401234567" <105>`, "105", ""},
		{`Reception`, "100", "Reception"},
		{`"Quote \"Q\" Name" <106>`, "106", `Quote "Q" Name`},
		{``, "107", ""},
	}
	for _, tt := range tests {
		if got := callerIDName(tt.cid, tt.ext); got != tt.want {
			t.Errorf("callerIDName(%q) = %q, want %q", tt.cid, got, tt.want)
		}
	}
}

// FuzzCallerIDName: any caller id gives a name without the number's
// brackets, and never panics.
func FuzzCallerIDName(f *testing.F) {
	for _, s := range []string{`"Alice Andersson" <101>`, `<102>`, `Bob`, `"unterminated <1`, `"\x00" <>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cid string) {
		if name := callerIDName(cid, "101"); strings.Contains(name, "<") {
			t.Errorf("callerIDName(%q) = %q keeps the number part", cid, name)
		}
	})
}
