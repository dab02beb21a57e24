package netallow

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// List is a set of allowed source networks. The zero List allows nothing
// and is Empty.
type List struct {
	prefixes []netip.Prefix
}

// Parse reads source networks in CIDR notation ("192.0.2.0/24",
// "2001:db8::/32"); a bare address ("192.0.2.10") is that address alone.
// The error names the first entry that does not parse, by index.
func Parse(cidrs []string) (List, error) {
	var l List
	for i, s := range cidrs {
		s = strings.TrimSpace(s)
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(s); err == nil && a.Zone() == "" {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || !p.IsValid() {
			return List{}, fmt.Errorf("[%d]: %q is not an address or a CIDR network", i, s)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		l.prefixes = append(l.prefixes, p.Masked())
	}
	return l, nil
}

// Empty reports whether the list names no network.
func (l List) Empty() bool { return len(l.prefixes) == 0 }

// Allows reports whether a packet from a may be taken.
func (l List) Allows(a netip.Addr) bool {
	a = a.Unmap()
	mapped := netip.AddrFrom16(a.As16()) // an IPv4 peer as a dual-stack socket sees it
	for _, p := range l.prefixes {
		if p.Contains(a) || (a.Is4() && p.Addr().Is6() && p.Contains(mapped)) {
			return true
		}
	}
	return false
}

// AllowsAddr is Allows for a net.Addr (a UDP or TCP peer); an address it
// cannot read is not allowed.
func (l List) AllowsAddr(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	return err == nil && l.Allows(ap.Addr())
}

// String lists the networks, for logs.
func (l List) String() string {
	s := make([]string, len(l.prefixes))
	for i, p := range l.prefixes {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// Loopback reports whether a listen address ("127.0.0.1:9060",
// "[::1]:5070", "localhost:9060") hears the host itself only. A wildcard
// (":9060", "0.0.0.0:9060", "[::]:9060"), a network address or any other
// host name is off loopback.
func Loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// Guard is what a listener needs to know: whether it may take a packet
// from a peer. With no list, only a loopback listener works (see Check).
type Guard struct {
	list List
	open bool // on loopback with no list: the host itself, any source
}

// NewGuard returns the guard for a listener on listen with the allowed
// sources list, or an error when the listener is off loopback and the
// list is empty.
func NewGuard(listen string, list List) (Guard, error) {
	if list.Empty() {
		if !Loopback(listen) {
			return Guard{}, fmt.Errorf("%s listens off loopback: list the sources allowed to send to it", listen)
		}
		return Guard{open: true}, nil
	}
	return Guard{list: list}, nil
}

// Allows reports whether the listener takes a packet from peer.
func (g Guard) Allows(peer net.Addr) bool { return g.open || g.list.AllowsAddr(peer) }
