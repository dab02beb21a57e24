package pcap

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Write writes datagrams as a pcap file (nanosecond timestamps, raw IP
// link type, IPv4 or IPv6 UDP), the form Datagrams reads back. It builds
// captures for tests and for trying a configuration on traffic put
// together by hand.
func Write(w io.Writer, ds []Datagram) error {
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		return fmt.Errorf("pcap: %w", err)
	}
	for i, d := range ds {
		b, err := ipUDP(d)
		if err != nil {
			return fmt.Errorf("pcap: datagram %d: %w", i+1, err)
		}
		ci := gopacket.CaptureInfo{Timestamp: d.Time, CaptureLength: len(b), Length: len(b)}
		if err := pw.WritePacket(ci, b); err != nil {
			return fmt.Errorf("pcap: %w", err)
		}
	}
	return nil
}

// ipUDP frames a datagram as an IP packet (checksums left zero: UDP over
// IPv4 allows it, and readers of captures do not check them).
func ipUDP(d Datagram) ([]byte, error) {
	src, dst := d.Src.Addr().Unmap(), d.Dst.Addr().Unmap()
	udpLen := 8 + len(d.Payload)
	if src.Is4() != dst.Is4() {
		return nil, fmt.Errorf("%s and %s are of different families", d.Src, d.Dst)
	}
	var b []byte
	if src.Is4() {
		if udpLen+20 > 65535 {
			return nil, fmt.Errorf("%d bytes do not fit an IPv4 packet", len(d.Payload))
		}
		b = make([]byte, 20, 20+udpLen)
		b[0] = 0x45
		binary.BigEndian.PutUint16(b[2:], uint16(20+udpLen))
		b[8], b[9] = 64, 17
		s4, d4 := src.As4(), dst.As4()
		copy(b[12:], s4[:])
		copy(b[16:], d4[:])
	} else {
		if udpLen > 65535 {
			return nil, fmt.Errorf("%d bytes do not fit an IPv6 packet", len(d.Payload))
		}
		b = make([]byte, 40, 40+udpLen)
		b[0] = 0x60
		binary.BigEndian.PutUint16(b[4:], uint16(udpLen))
		b[6], b[7] = 17, 64
		s16, d16 := src.As16(), dst.As16()
		copy(b[8:], s16[:])
		copy(b[24:], d16[:])
	}
	b = binary.BigEndian.AppendUint16(b, d.Src.Port())
	b = binary.BigEndian.AppendUint16(b, d.Dst.Port())
	b = binary.BigEndian.AppendUint16(b, uint16(udpLen))
	b = binary.BigEndian.AppendUint16(b, 0)
	return append(b, d.Payload...), nil
}
