package netallow

import (
	"net"
	"net/netip"
	"testing"
)

func TestParseAndAllows(t *testing.T) {
	l, err := Parse([]string{"192.0.2.0/24", "198.51.100.7", "2001:db8::/32", " 127.0.0.1/32 ", "::ffff:203.0.113.0/120"})
	if err != nil {
		t.Fatal(err)
	}
	for a, want := range map[string]bool{
		"192.0.2.1": true, "192.0.3.1": false, "198.51.100.7": true, "198.51.100.8": false,
		"2001:db8::1": true, "2001:db9::1": false, "127.0.0.1": true, "127.0.0.2": false,
		"::ffff:192.0.2.9": true, "203.0.113.5": true,
	} {
		if got := l.Allows(netip.MustParseAddr(a)); got != want {
			t.Errorf("Allows(%s) = %v, want %v", a, got, want)
		}
	}
	if !l.AllowsAddr(&net.UDPAddr{IP: net.ParseIP("192.0.2.5"), Port: 9}) || l.AllowsAddr(&net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 9}) {
		t.Error("AllowsAddr")
	}
	for _, bad := range []string{"192.0.2.0/33", "host.example", "", "192.0.2.1/", "fe80::1%eth0"} {
		if _, err := Parse([]string{"10.0.0.0/8", bad}); err == nil || err.Error()[:3] != "[1]" {
			t.Errorf("Parse(%q) = %v, want an error naming [1]", bad, err)
		}
	}
	// An IPv6 network holding the IPv4-mapped range holds IPv4 peers too.
	if all, _ := Parse([]string{"::/0"}); !all.Allows(netip.MustParseAddr("192.0.2.1")) {
		t.Error("::/0 does not allow an IPv4 peer")
	}
	if !(List{}).Empty() || (List{}).Allows(netip.MustParseAddr("127.0.0.1")) {
		t.Error("the zero List allows nothing")
	}
}

func TestLoopback(t *testing.T) {
	for a, want := range map[string]bool{
		"127.0.0.1:9060": true, "127.0.0.2:9060": true, "[::1]:5070": true, "localhost:0": true,
		":9060": false, "0.0.0.0:9060": false, "[::]:9060": false, "192.0.2.10:9060": false,
		"pbx.example:9060": false, "127.0.0.1": false,
	} {
		if got := Loopback(a); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", a, got, want)
		}
	}
}

func TestGuard(t *testing.T) {
	other := &net.UDPAddr{IP: net.ParseIP("192.0.2.9"), Port: 5}
	g, err := NewGuard("127.0.0.1:9060", List{})
	if err != nil || !g.Allows(other) {
		t.Errorf("loopback without a list: %v, allows %v", err, g.Allows(other))
	}
	if _, err := NewGuard("0.0.0.0:9060", List{}); err == nil {
		t.Error("off loopback without a list accepted")
	}
	l, _ := Parse([]string{"192.0.2.1"})
	g, err = NewGuard("0.0.0.0:9060", l)
	if err != nil || g.Allows(other) || !g.Allows(&net.UDPAddr{IP: net.ParseIP("192.0.2.1"), Port: 5}) {
		t.Errorf("off loopback with a list: %v", err)
	}
	// A list applies on loopback too.
	g, _ = NewGuard("127.0.0.1:9060", l)
	if g.Allows(other) {
		t.Error("loopback with a list allowed another source")
	}
}
