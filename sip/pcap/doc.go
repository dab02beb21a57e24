// Package pcap replays SIP captures: it reads pcap and pcapng files (pure
// Go, gopacket's pcapgo, no libpcap) with Ethernet, Linux cooked (SLL and
// SLL2), BSD loopback/null and raw IP link types, takes the UDP payloads of
// IPv4 and IPv6 packets, and treats each as plain SIP or, when it is HEP
// encapsulated, as the SIP inside. The messages go through the same dialog
// tracker as the live HEP collector, so `callbridge replay --pcap FILE`
// gives what the live source would have given. Write writes datagrams back
// as a capture, for captures put together by hand (tests, trying a
// configuration on edited traffic).
package pcap
