package dialog

import (
	"fmt"
	"net/netip"
	"strings"
)

// Addr matches SIP transport addresses: an IP prefix (one address is a
// /32 or /128) and a port, 0 meaning any port.
type Addr struct {
	Prefix netip.Prefix
	Port   uint16
}

// AddrOf is the Addr matching exactly ap (any port when ap's port is 0).
func AddrOf(ap netip.AddrPort) Addr {
	a := ap.Addr().Unmap()
	return Addr{Prefix: netip.PrefixFrom(a, a.BitLen()), Port: ap.Port()}
}

// ParseAddr reads "10.0.0.5", "10.0.0.5:5060", "[2001:db8::5]:5060",
// "2001:db8::5" or a prefix "10.0.0.0/24" (any port), the forms
// sip.pbx_addresses and sip.trunk_addresses take.
func ParseAddr(s string) (Addr, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return Addr{}, fmt.Errorf("%q: want an IP address, IP:port or prefix: %w", s, err)
		}
		return Addr{Prefix: netip.PrefixFrom(p.Addr().Unmap(), min(p.Bits(), p.Addr().Unmap().BitLen())).Masked()}, nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return AddrOf(ap), nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return AddrOf(netip.AddrPortFrom(ip, 0)), nil
	}
	return Addr{}, fmt.Errorf("%q: want an IP address, IP:port or prefix", s)
}

// Match reports whether ap is one of the addresses a stands for.
func (a Addr) Match(ap netip.AddrPort) bool {
	if !a.Prefix.IsValid() || (a.Port != 0 && a.Port != ap.Port()) {
		return false
	}
	return a.Prefix.Contains(ap.Addr().Unmap())
}

func (a Addr) String() string {
	if a.Prefix.Bits() == a.Prefix.Addr().BitLen() {
		if a.Port == 0 {
			return a.Prefix.Addr().String()
		}
		return netip.AddrPortFrom(a.Prefix.Addr(), a.Port).String()
	}
	return a.Prefix.String()
}

func matchAny(as []Addr, ap netip.AddrPort) bool {
	for _, a := range as {
		if a.Match(ap) {
			return true
		}
	}
	return false
}
