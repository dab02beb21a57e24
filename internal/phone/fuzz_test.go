package phone

import (
	"strings"
	"testing"
)

// FuzzNormalize checks that no input panics and that every accepted number
// is E.164: '+', then 2–15 digits (the library's lower bound is its own),
// and that normalising the result again is a fixed point.
func FuzzNormalize(f *testing.F) {
	// Numbers as they appear in the recordings' caller ids, dial strings
	// and DIDs, plus shapes that must be refused.
	for _, s := range []string{
		"+358401234567", "+35850111222", "+35850111333", "0409999999",
		"101", "102", "anonymous", "*8", "*990401234567", "0401234567@pstn",
		"00358401234567", "+358 (0)40 123 4567", "", "+", "0", "+0",
	} {
		f.Add("FI", s)
	}
	f.Add("US", "(415) 555-2671")
	f.Add("GB", "020 7946 0958")
	f.Fuzz(func(t *testing.T, region, num string) {
		n := NewNormalizer(region)
		got, ok := n.Normalize(num)
		if !ok {
			if got != "" {
				t.Fatalf("not ok but returned %q", got)
			}
			return
		}
		if !strings.HasPrefix(got, "+") || len(got) < 3 || len(got) > 16 {
			t.Fatalf("Normalize(%q) = %q: not E.164", num, got)
		}
		for _, r := range got[1:] {
			if r < '0' || r > '9' {
				t.Fatalf("Normalize(%q) = %q: not E.164", num, got)
			}
		}
		again, ok := n.Normalize(got)
		if !ok || again != got {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", num, got, got, again, ok)
		}
		// The national form of a number leads back to it.
		if nat := n.National(got); nat != got {
			if back, ok := n.Normalize(nat); !ok || back != got {
				t.Fatalf("National(%q) = %q, which normalises to %q, %v", got, nat, back, ok)
			}
		}
	})
}
