package pcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/sip/dialog"
	"github.com/callbridge/callbridge/sip/hep"
)

// Stats counts what a capture held.
type Stats struct {
	Packets   int // frames read
	SIP       int // plain SIP payloads
	HEP       int // HEP packets carrying SIP
	Skipped   int // frames that are not UDP over IP (ARP, TCP, fragments, …)
	Malformed int // truncated frames, bad HEP, payloads that are not SIP
	Dialog    dialog.Stats
	// Problems describes the first few malformed frames, for the log.
	Problems []string
}

const maxProblems = 10

func (s *Stats) problem(n int, err error) {
	s.Malformed++
	if len(s.Problems) < maxProblems {
		s.Problems = append(s.Problems, fmt.Sprintf("frame %d: %v", n, err))
	}
}

// ReadPcap replays a capture through a dialog tracker with the default
// configuration (PBX address learnt from the traffic, trunk endpoint
// "pstn") and hands fn every event, in capture order, then the events of
// the dialogs still open at the end. The error is for failures to read
// r, never for bad packets, which are counted.
func ReadPcap(r io.Reader, fn func(bridge.Event)) (Stats, error) {
	return Read(r, dialog.Config{}, fn)
}

// Read is ReadPcap with a tracker configuration.
func Read(r io.Reader, cfg dialog.Config, fn func(bridge.Event)) (Stats, error) {
	tr := dialog.New(cfg)
	var last time.Time
	st, err := Messages(r, func(m dialog.Message) error {
		last = m.Time
		return tr.Feed(m, fn)
	})
	if !last.IsZero() {
		if ferr := tr.Flush(last, fn); ferr != nil && err == nil {
			err = ferr
		}
	}
	st.Dialog = tr.Stats()
	return st, err
}

// Datagram is one UDP payload of a capture.
type Datagram struct {
	Time     time.Time
	Src, Dst netip.AddrPort
	Payload  []byte // valid until fn returns
}

// Datagrams reads a capture and hands fn the payload of every UDP packet
// in it, in capture order. Frames that are not UDP over IP are counted as
// Skipped, truncated ones as Malformed; an error from fn is counted as
// Malformed and reading goes on. The error is for failures to read r.
func Datagrams(r io.Reader, fn func(Datagram) error) (Stats, error) {
	var st Stats
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil {
		return st, fmt.Errorf("pcap: read header: %w", err)
	}
	var src interface {
		ReadPacketData() ([]byte, gopacketCaptureInfo, error)
		LinkType() layers.LinkType
	}
	if binary.LittleEndian.Uint32(magic) == 0x0a0d0d0a {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return st, fmt.Errorf("pcap: %w", err)
		}
		src = ngAdapter{ng}
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return st, fmt.Errorf("pcap: %w", err)
		}
		src = pcapAdapter{pr}
	}
	link := src.LinkType()
	for {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) && st.Packets > 0 {
			// A capture cut short by a killed tcpdump ends in a partial
			// frame: what came before it is still good.
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("pcap: frame %d: %w", st.Packets+1, err)
		}
		st.Packets++
		sa, da, payload, err := udpPayload(link, data)
		if err != nil {
			if errors.Is(err, errSkip) {
				st.Skipped++
			} else {
				st.problem(st.Packets, err)
			}
			continue
		}
		if err := fn(Datagram{Time: ci.Timestamp.UTC(), Src: sa, Dst: da, Payload: payload}); err != nil {
			if errors.Is(err, errSkip) {
				st.Skipped++
			} else {
				st.problem(st.Packets, err)
			}
		}
	}
}

// Messages reads a capture and hands fn each SIP message in it (plain or
// HEP encapsulated), with the packet time (for HEP, the HEP timestamp when
// present). An error from fn counts the frame as malformed and reading goes
// on.
func Messages(r io.Reader, fn func(dialog.Message) error) (Stats, error) {
	var sipN, hepN int
	st, err := Datagrams(r, func(d Datagram) error {
		m := dialog.Message{Time: d.Time, Src: d.Src, Dst: d.Dst, Transport: "udp", Payload: d.Payload}
		if hep.IsHEP(d.Payload) {
			p, err := hep.Decode(d.Payload)
			if err != nil {
				return err
			}
			if p.ProtoType != hep.ProtoSIP {
				return errSkip // RTCP, logs, QoS reports
			}
			hepN++
			m.Src, m.Dst, m.Payload, m.CorrelationID = p.Src, p.Dst, p.Payload, p.CorrelationID
			if p.IPProto == 6 {
				m.Transport = "tcp"
			}
			if !p.Time.IsZero() {
				m.Time = p.Time
			}
		} else {
			sipN++
		}
		return fn(m)
	})
	st.SIP, st.HEP = sipN, hepN
	return st, err
}

type gopacketCaptureInfo = struct {
	Timestamp time.Time
}

type pcapAdapter struct{ r *pcapgo.Reader }

func (a pcapAdapter) ReadPacketData() ([]byte, gopacketCaptureInfo, error) {
	d, ci, err := a.r.ReadPacketData()
	return d, gopacketCaptureInfo{ci.Timestamp}, err
}
func (a pcapAdapter) LinkType() layers.LinkType { return a.r.LinkType() }

type ngAdapter struct{ r *pcapgo.NgReader }

func (a ngAdapter) ReadPacketData() ([]byte, gopacketCaptureInfo, error) {
	d, ci, err := a.r.ReadPacketData()
	return d, gopacketCaptureInfo{ci.Timestamp}, err
}
func (a ngAdapter) LinkType() layers.LinkType { return a.r.LinkType() }

// errSkip marks frames that are well formed but not UDP over IP.
var errSkip = errors.New("not UDP over IP")

var errTruncated = errors.New("truncated frame")

// udpPayload strips the link, IP and UDP headers by hand: it is all the
// decoding a SIP capture needs and many times cheaper than a full
// gopacket decode.
func udpPayload(link layers.LinkType, b []byte) (src, dst netip.AddrPort, payload []byte, err error) {
	var ethertype uint16
	switch link {
	case layers.LinkTypeEthernet:
		if len(b) < 14 {
			return src, dst, nil, errTruncated
		}
		ethertype = binary.BigEndian.Uint16(b[12:])
		b = b[14:]
		for ethertype == 0x8100 || ethertype == 0x88a8 { // VLAN tags
			if len(b) < 4 {
				return src, dst, nil, errTruncated
			}
			ethertype = binary.BigEndian.Uint16(b[2:])
			b = b[4:]
		}
	case layers.LinkTypeLinuxSLL:
		if len(b) < 16 {
			return src, dst, nil, errTruncated
		}
		ethertype = binary.BigEndian.Uint16(b[14:])
		b = b[16:]
	case layers.LinkTypeLinuxSLL2:
		if len(b) < 20 {
			return src, dst, nil, errTruncated
		}
		ethertype = binary.BigEndian.Uint16(b[0:])
		b = b[20:]
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(b) < 4 {
			return src, dst, nil, errTruncated
		}
		// The address family, in the capturing host's byte order (Null)
		// or network order (Loop): read the IP version instead.
		b = b[4:]
		ethertype = ipEthertype(b)
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		ethertype = ipEthertype(b)
	default:
		return src, dst, nil, fmt.Errorf("%w: link type %v", errSkip, link)
	}
	var proto uint8
	var sa, da netip.Addr
	switch ethertype {
	case 0x0800:
		if len(b) < 20 || b[0]>>4 != 4 {
			return src, dst, nil, errTruncated
		}
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:]))
		if ihl < 20 || len(b) < ihl || total < ihl {
			return src, dst, nil, errTruncated
		}
		if total < len(b) {
			b = b[:total] // Ethernet padding
		}
		if frag := binary.BigEndian.Uint16(b[6:]); frag&0x3fff != 0 {
			return src, dst, nil, fmt.Errorf("%w: IPv4 fragment", errSkip)
		}
		proto = b[9]
		sa = netip.AddrFrom4([4]byte(b[12:16]))
		da = netip.AddrFrom4([4]byte(b[16:20]))
		b = b[ihl:]
	case 0x86dd:
		if len(b) < 40 {
			return src, dst, nil, errTruncated
		}
		plen := int(binary.BigEndian.Uint16(b[4:]))
		proto = b[6]
		sa = netip.AddrFrom16([16]byte(b[8:24]))
		da = netip.AddrFrom16([16]byte(b[24:40]))
		b = b[40:]
		if plen < len(b) {
			b = b[:plen]
		}
		// Extension headers (hop-by-hop, routing, destination options)
		// before UDP; a fragment header means we skip the packet.
		for proto == 0 || proto == 43 || proto == 60 {
			if len(b) < 8 {
				return src, dst, nil, errTruncated
			}
			n := (int(b[1]) + 1) * 8
			if len(b) < n {
				return src, dst, nil, errTruncated
			}
			proto = b[0]
			b = b[n:]
		}
	default:
		return src, dst, nil, fmt.Errorf("%w: ethertype 0x%04x", errSkip, ethertype)
	}
	if proto != 17 {
		return src, dst, nil, fmt.Errorf("%w: IP protocol %d", errSkip, proto)
	}
	if len(b) < 8 {
		return src, dst, nil, errTruncated
	}
	ulen := int(binary.BigEndian.Uint16(b[4:]))
	if ulen < 8 || ulen > len(b) {
		return src, dst, nil, errTruncated
	}
	src = netip.AddrPortFrom(sa, binary.BigEndian.Uint16(b[0:]))
	dst = netip.AddrPortFrom(da, binary.BigEndian.Uint16(b[2:]))
	return src, dst, b[8:ulen], nil
}

func ipEthertype(b []byte) uint16 {
	if len(b) == 0 {
		return 0
	}
	switch b[0] >> 4 {
	case 4:
		return 0x0800
	case 6:
		return 0x86dd
	}
	return 0
}
