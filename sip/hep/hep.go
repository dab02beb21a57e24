package hep

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Chunk types of vendor 0 (the generic chunks of the HEP3 specification).
const (
	ChunkIPFamily      = 0x0001 // uint8: 2 IPv4, 10 IPv6
	ChunkIPProto       = 0x0002 // uint8: 17 UDP, 6 TCP, …
	ChunkIPv4Src       = 0x0003
	ChunkIPv4Dst       = 0x0004
	ChunkIPv6Src       = 0x0005
	ChunkIPv6Dst       = 0x0006
	ChunkSrcPort       = 0x0007 // uint16
	ChunkDstPort       = 0x0008 // uint16
	ChunkTimeSec       = 0x0009 // uint32
	ChunkTimeUsec      = 0x000a // uint32
	ChunkProtoType     = 0x000b // uint8: 1 SIP
	ChunkCaptureID     = 0x000c // uint32
	ChunkKeepAlive     = 0x000d // uint16
	ChunkAuthKey       = 0x000e // string
	ChunkPayload       = 0x000f
	ChunkCompressed    = 0x0010 // compressed payload
	ChunkCorrelationID = 0x0011 // string
	ChunkVLAN          = 0x0012
	ChunkNodeName      = 0x0013
)

// ProtoSIP is the HEP protocol type of SIP payloads.
const ProtoSIP = 1

// MaxPacket bounds one HEP packet: the length field is 16 bits.
const MaxPacket = 65535

// Errors Decode returns, for errors.Is; the returned error wraps one of
// them with detail.
var (
	ErrShort       = errors.New("hep: packet too short")
	ErrVersion     = errors.New("hep: not a HEP packet")
	ErrLength      = errors.New("hep: bad length")
	ErrChunk       = errors.New("hep: bad chunk")
	ErrCompressed  = errors.New("hep: compressed payload not supported")
	ErrNoPayload   = errors.New("hep: no payload")
	ErrAddressSize = errors.New("hep: bad address")
)

// Packet is one decoded HEP packet. Payload aliases the decoded buffer.
type Packet struct {
	Version   int   // 1, 2 or 3
	Family    uint8 // 2 IPv4, 10 IPv6 (as in the packet)
	IPProto   uint8 // 17 UDP, 6 TCP, …
	Src, Dst  netip.AddrPort
	Time      time.Time // zero when the packet carried no timestamp
	ProtoType uint8     // 1 SIP; v1/v2 packets are always SIP
	CaptureID uint32
	// AuthKey is the capture agent's password. It is a secret: it is
	// never printed by this package; compare it with CheckAuth.
	AuthKey       string
	CorrelationID string
	NodeName      string
	Payload       []byte
}

// String describes the packet without its auth key or payload.
func (p Packet) String() string {
	return fmt.Sprintf("HEPv%d %s -> %s proto=%d capture=%d corr=%q len=%d",
		p.Version, p.Src, p.Dst, p.ProtoType, p.CaptureID, p.CorrelationID, len(p.Payload))
}

// IsHEP reports whether b starts like a HEP packet (v3 magic, or the
// version and header length of v1/v2). It is a cheap sniff used to tell HEP
// from plain SIP in a capture; Decode does the real checks.
func IsHEP(b []byte) bool {
	if len(b) >= 4 && string(b[:4]) == "HEP3" {
		return true
	}
	// v1/v2: version byte 1 or 2, then header length 16 (IPv4) or 40 (IPv6).
	return len(b) >= 2 && (b[0] == 1 || b[0] == 2) && (b[1] == 16 || b[1] == 40)
}

// Decode decodes one HEP v1, v2 or v3 packet.
func Decode(b []byte) (Packet, error) {
	if len(b) < 4 {
		return Packet{}, fmt.Errorf("%w: %d bytes", ErrShort, len(b))
	}
	if string(b[:4]) == "HEP3" {
		return decode3(b)
	}
	if b[0] == 1 || b[0] == 2 {
		return decode2(b)
	}
	return Packet{}, ErrVersion
}

func decode3(b []byte) (Packet, error) {
	if len(b) < 6 {
		return Packet{}, fmt.Errorf("%w: %d bytes", ErrShort, len(b))
	}
	total := int(binary.BigEndian.Uint16(b[4:6]))
	if total < 6 || total > len(b) {
		return Packet{}, fmt.Errorf("%w: header says %d, have %d", ErrLength, total, len(b))
	}
	p := Packet{Version: 3}
	var (
		srcIP, dstIP     netip.Addr
		srcPort, dstPort uint16
		sec, usec        uint32
		haveTime         bool
		havePayload      bool
	)
	for off := 6; off < total; {
		if total-off < 6 {
			return Packet{}, fmt.Errorf("%w: %d trailing bytes at %d", ErrChunk, total-off, off)
		}
		vendor := binary.BigEndian.Uint16(b[off:])
		typ := binary.BigEndian.Uint16(b[off+2:])
		n := int(binary.BigEndian.Uint16(b[off+4:]))
		if n < 6 || off+n > total {
			return Packet{}, fmt.Errorf("%w: chunk 0x%04x length %d at %d", ErrChunk, typ, n, off)
		}
		v := b[off+6 : off+n]
		off += n
		if vendor != 0 {
			continue // vendor chunks carry nothing we use
		}
		var err error
		switch typ {
		case ChunkIPFamily:
			p.Family, err = u8(v, typ)
		case ChunkIPProto:
			p.IPProto, err = u8(v, typ)
		case ChunkIPv4Src, ChunkIPv6Src:
			srcIP, err = addr(v, typ)
		case ChunkIPv4Dst, ChunkIPv6Dst:
			dstIP, err = addr(v, typ)
		case ChunkSrcPort:
			srcPort, err = u16(v, typ)
		case ChunkDstPort:
			dstPort, err = u16(v, typ)
		case ChunkTimeSec:
			sec, err = u32(v, typ)
			haveTime = true
		case ChunkTimeUsec:
			usec, err = u32(v, typ)
		case ChunkProtoType:
			p.ProtoType, err = u8(v, typ)
		case ChunkCaptureID:
			p.CaptureID, err = u32(v, typ)
		case ChunkAuthKey:
			p.AuthKey = string(trimNul(v))
		case ChunkPayload:
			p.Payload, havePayload = v, true
		case ChunkCompressed:
			return Packet{}, ErrCompressed
		case ChunkCorrelationID:
			p.CorrelationID = string(trimNul(v))
		case ChunkNodeName:
			p.NodeName = string(trimNul(v))
		}
		if err != nil {
			return Packet{}, err
		}
	}
	if !havePayload {
		return Packet{}, ErrNoPayload
	}
	if srcIP.IsValid() {
		p.Src = netip.AddrPortFrom(srcIP, srcPort)
	}
	if dstIP.IsValid() {
		p.Dst = netip.AddrPortFrom(dstIP, dstPort)
	}
	if haveTime {
		if usec >= 1e6 {
			return Packet{}, fmt.Errorf("%w: microseconds %d", ErrChunk, usec)
		}
		if sec != 0 { // a sender without a clock writes 0: no time
			p.Time = time.Unix(int64(sec), int64(usec)*1000).UTC()
		}
	}
	return p, nil
}

// decode2 reads the fixed header of HEP v1 and v2:
//
//	version(1) length(1) family(1) proto(1) sport(2, BE) dport(2, BE)
//	src addr, dst addr (4 or 16 bytes each)
//	v2 only: tv_sec(4) tv_usec(4) capture id(2), host (little-endian)
//	byte order as the C structs were sent, padded to 12 bytes
//	payload
func decode2(b []byte) (Packet, error) {
	if len(b) < 8 {
		return Packet{}, fmt.Errorf("%w: %d bytes", ErrShort, len(b))
	}
	p := Packet{Version: int(b[0]), Family: b[2], IPProto: b[3], ProtoType: ProtoSIP}
	hl := int(b[1])
	var alen int
	switch p.Family {
	case 2:
		alen = 4
	case 10:
		alen = 16
	default:
		return Packet{}, fmt.Errorf("%w: v%d family %d", ErrVersion, p.Version, p.Family)
	}
	if hl != 8+2*alen || len(b) < hl {
		return Packet{}, fmt.Errorf("%w: v%d header length %d", ErrLength, p.Version, hl)
	}
	sport := binary.BigEndian.Uint16(b[4:])
	dport := binary.BigEndian.Uint16(b[6:])
	src, _ := netip.AddrFromSlice(b[8 : 8+alen])
	dst, _ := netip.AddrFromSlice(b[8+alen : 8+2*alen])
	p.Src = netip.AddrPortFrom(src, sport)
	p.Dst = netip.AddrPortFrom(dst, dport)
	off := hl
	if p.Version == 2 {
		if len(b) < off+10 {
			return Packet{}, fmt.Errorf("%w: v2 time header", ErrShort)
		}
		sec := binary.LittleEndian.Uint32(b[off:])
		usec := binary.LittleEndian.Uint32(b[off+4:])
		p.CaptureID = uint32(binary.LittleEndian.Uint16(b[off+8:]))
		if usec >= 1e6 {
			return Packet{}, fmt.Errorf("%w: v2 microseconds %d", ErrChunk, usec)
		}
		p.Time = time.Unix(int64(sec), int64(usec)*1000).UTC()
		// The C struct is 12 bytes with padding on most senders; a few
		// pack it to 10. Padding is zero, a SIP start line is not.
		off += 10
		if len(b) >= off+2 && b[off] == 0 && b[off+1] == 0 {
			off += 2
		}
	}
	if off >= len(b) {
		return Packet{}, ErrNoPayload
	}
	p.Payload = b[off:]
	return p, nil
}

// Encode writes p as a HEP3 packet (for tests, tools and re-mirroring).
// It fails when the packet would exceed MaxPacket.
func Encode(p Packet) ([]byte, error) {
	b := make([]byte, 6, 64+len(p.Payload)+len(p.CorrelationID)+len(p.AuthKey))
	copy(b, "HEP3")
	chunk := func(typ uint16, v []byte) {
		b = binary.BigEndian.AppendUint16(b, 0)
		b = binary.BigEndian.AppendUint16(b, typ)
		b = binary.BigEndian.AppendUint16(b, uint16(6+len(v)))
		b = append(b, v...)
	}
	// The address chunks follow the addresses themselves, whatever Family
	// says; Family is what the packet claims and is written as given.
	src, dst := p.Src.Addr().Unmap(), p.Dst.Addr().Unmap()
	v4 := (src.Is4() || !src.IsValid()) && (dst.Is4() || !dst.IsValid())
	fam := p.Family
	if fam == 0 {
		fam = 10
		if v4 {
			fam = 2
		}
	}
	chunk(ChunkIPFamily, []byte{fam})
	proto := p.IPProto
	if proto == 0 {
		proto = 17
	}
	chunk(ChunkIPProto, []byte{proto})
	if v4 {
		var s4, d4 [4]byte
		if src.IsValid() {
			s4 = src.As4()
		}
		if dst.IsValid() {
			d4 = dst.As4()
		}
		chunk(ChunkIPv4Src, s4[:])
		chunk(ChunkIPv4Dst, d4[:])
	} else {
		var s16, d16 [16]byte
		if src.IsValid() {
			s16 = src.As16()
		}
		if dst.IsValid() {
			d16 = dst.As16()
		}
		chunk(ChunkIPv6Src, s16[:])
		chunk(ChunkIPv6Dst, d16[:])
	}
	chunk(ChunkSrcPort, binary.BigEndian.AppendUint16(nil, p.Src.Port()))
	chunk(ChunkDstPort, binary.BigEndian.AppendUint16(nil, p.Dst.Port()))
	if !p.Time.IsZero() {
		chunk(ChunkTimeSec, binary.BigEndian.AppendUint32(nil, uint32(p.Time.Unix())))
		chunk(ChunkTimeUsec, binary.BigEndian.AppendUint32(nil, uint32(p.Time.Nanosecond()/1000)))
	}
	pt := p.ProtoType
	if pt == 0 {
		pt = ProtoSIP
	}
	chunk(ChunkProtoType, []byte{pt})
	chunk(ChunkCaptureID, binary.BigEndian.AppendUint32(nil, p.CaptureID))
	if p.AuthKey != "" {
		chunk(ChunkAuthKey, []byte(p.AuthKey))
	}
	if p.CorrelationID != "" {
		chunk(ChunkCorrelationID, []byte(p.CorrelationID))
	}
	if p.NodeName != "" {
		chunk(ChunkNodeName, []byte(p.NodeName))
	}
	chunk(ChunkPayload, p.Payload)
	if len(b) > MaxPacket {
		return nil, fmt.Errorf("%w: %d bytes", ErrLength, len(b))
	}
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)))
	return b, nil
}

func u8(v []byte, typ uint16) (uint8, error) {
	if len(v) != 1 {
		return 0, sizeErr(typ, len(v))
	}
	return v[0], nil
}

func u16(v []byte, typ uint16) (uint16, error) {
	if len(v) != 2 {
		return 0, sizeErr(typ, len(v))
	}
	return binary.BigEndian.Uint16(v), nil
}

func u32(v []byte, typ uint16) (uint32, error) {
	if len(v) != 4 {
		return 0, sizeErr(typ, len(v))
	}
	return binary.BigEndian.Uint32(v), nil
}

func addr(v []byte, typ uint16) (netip.Addr, error) {
	want := 4
	if typ == ChunkIPv6Src || typ == ChunkIPv6Dst {
		want = 16
	}
	if len(v) != want {
		return netip.Addr{}, fmt.Errorf("%w: chunk 0x%04x has %d bytes", ErrAddressSize, typ, len(v))
	}
	a, _ := netip.AddrFromSlice(v)
	return a, nil
}

func sizeErr(typ uint16, n int) error {
	return fmt.Errorf("%w: chunk 0x%04x has %d bytes", ErrChunk, typ, n)
}

// trimNul drops the C string terminator some senders include.
func trimNul(v []byte) []byte {
	for len(v) > 0 && v[len(v)-1] == 0 {
		v = v[:len(v)-1]
	}
	return v
}
