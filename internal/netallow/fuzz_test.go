package netallow

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzParse: whatever the entries, Parse does not panic, and a list it
// accepts allows the address every entry names.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"192.0.2.0/24", "198.51.100.7", "2001:db8::/32", "::ffff:203.0.113.0/120", "0.0.0.0/0", "host", "1.2.3.4/33", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse([]string{s})
		if err != nil {
			return
		}
		s = strings.TrimSpace(s)
		addr, _, _ := strings.Cut(s, "/")
		a, err := netip.ParseAddr(addr)
		if err != nil {
			t.Fatalf("Parse accepted %q, whose address does not parse", s)
		}
		if !l.Allows(a) {
			t.Fatalf("%q does not allow its own address %s", s, a)
		}
		_ = Loopback(s)
	})
}
