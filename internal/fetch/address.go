package fetch

import (
	"net/netip"
)

// blocked lists the address ranges a fetch never dials (unless
// Config.AllowPrivate): everything that is not an ordinary public unicast
// address, from IANA's special-purpose registries. Each is named in the
// refusal, so a log says why.
var blocked = []struct {
	prefix netip.Prefix
	name   string
}{
	// IPv4.
	{netip.MustParsePrefix("0.0.0.0/8"), "this network, incl. unspecified"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (CGNAT)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local, incl. cloud metadata"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation (TEST-NET-1)"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation (TEST-NET-2)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation (TEST-NET-3)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved, incl. broadcast"},

	// IPv6. IPv4-mapped addresses (::ffff:0:0/96) are unmapped and
	// checked as IPv4 before this list is read.
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible (deprecated)"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64, can reach any IPv4 address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments, incl. Teredo"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2002::/16"), "6to4, can reach any IPv4 address"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("fc00::/7"), "unique local (private)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local (deprecated)"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// globalUnicast6 is where every public IPv6 address is allocated today:
// an IPv6 address outside it is refused even when no entry of blocked
// names it, so a range IANA adds later fails closed.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// refusal says why addr is not a public unicast address that a fetch may
// dial, or "" when it is one.
func refusal(addr netip.Addr) string {
	// Prefix.Contains matches neither a zoned address nor an IPv4-mapped
	// one against an IPv4 prefix: normalise first.
	addr = addr.Unmap().WithZone("")
	if !addr.IsValid() {
		return "not an IP address"
	}
	for _, b := range blocked {
		if b.prefix.Contains(addr) {
			return b.name + " (" + b.prefix.String() + ")"
		}
	}
	if addr.Is6() && !globalUnicast6.Contains(addr) {
		return "outside IPv6 global unicast (" + globalUnicast6.String() + ")"
	}
	return ""
}
