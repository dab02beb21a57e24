package hep_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/sip/hep"
	"github.com/callbridge/callbridge/sip/internal/siptest"
	"github.com/callbridge/callbridge/sip/pcap"
)

// recorded returns the UDP payloads of a scenario's hep.pcap with their
// capture times.
func recorded(t testing.TB, scenario string) []pcap.Datagram {
	t.Helper()
	f, err := os.Open(filepath.Join(siptest.Recordings, scenario, "hep.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []pcap.Datagram
	if _, err := pcap.Datagrams(f, func(d pcap.Datagram) error {
		d.Payload = bytes.Clone(d.Payload)
		out = append(out, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeRecorded(t *testing.T) {
	ds := recorded(t, "inbound_answered")
	if len(ds) == 0 {
		t.Fatal("no packets")
	}
	p, err := hep.Decode(ds[0].Payload)
	if err != nil {
		t.Fatal(err)
	}
	want := netip.MustParseAddrPort("127.0.0.1:5090")
	if p.Version != 3 || p.Src != want || p.Dst.Port() != 5060 || p.CaptureID != 1234 || p.ProtoType != hep.ProtoSIP {
		t.Errorf("decoded %v", p)
	}
	if !strings.HasPrefix(string(p.Payload), "INVITE sip:") {
		t.Errorf("payload starts %q", p.Payload[:16])
	}
	if p.CorrelationID == "" {
		t.Error("no correlation id")
	}
	if d := p.Time.Sub(ds[0].Time); d < -time.Second || d > time.Second {
		t.Errorf("HEP time %v far from capture time %v", p.Time, ds[0].Time)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, p := range []hep.Packet{
		{Src: netip.MustParseAddrPort("10.0.0.1:5060"), Dst: netip.MustParseAddrPort("10.0.0.2:5070"),
			Time: time.Unix(1700000000, 123456000).UTC(), CaptureID: 7, AuthKey: "s3cret",
			CorrelationID: "abc@host", NodeName: "pbx1", Payload: []byte("OPTIONS sip:x SIP/2.0\r\n\r\n")},
		{Src: netip.MustParseAddrPort("[2001:db8::1]:5060"), Dst: netip.MustParseAddrPort("[2001:db8::2]:5061"),
			IPProto: 6, Payload: []byte("x")},
	} {
		b, err := hep.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := hep.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Src != p.Src || got.Dst != p.Dst || !got.Time.Equal(p.Time) || got.CaptureID != p.CaptureID ||
			got.AuthKey != p.AuthKey || got.CorrelationID != p.CorrelationID || got.NodeName != p.NodeName ||
			!bytes.Equal(got.Payload, p.Payload) {
			t.Errorf("round trip: got %+v, want %+v", got, p)
		}
		if strings.Contains(got.String(), "s3cret") {
			t.Error("String prints the auth key")
		}
	}
}

// v2 builds a HEP v2 packet as Kamailio's C structs put it on the wire.
func v2(pad bool, payload string) []byte {
	b := []byte{2, 16, 2, 17, 0x13, 0xc4, 0x13, 0xc5, 10, 0, 0, 1, 10, 0, 0, 2}
	b = binary.LittleEndian.AppendUint32(b, 1700000000)
	b = binary.LittleEndian.AppendUint32(b, 500000)
	b = binary.LittleEndian.AppendUint16(b, 99)
	if pad {
		b = append(b, 0, 0)
	}
	return append(b, payload...)
}

func TestDecodeV2(t *testing.T) {
	for _, pad := range []bool{true, false} {
		p, err := hep.Decode(v2(pad, "BYE sip:a SIP/2.0\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if p.Version != 2 || p.Src != netip.MustParseAddrPort("10.0.0.1:5060") || p.Dst.Port() != 5061 ||
			p.CaptureID != 99 || !p.Time.Equal(time.Unix(1700000000, 5e8)) || string(p.Payload) != "BYE sip:a SIP/2.0\r\n" {
			t.Errorf("pad=%v: %+v", pad, p)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	good, _ := hep.Encode(hep.Packet{Src: netip.MustParseAddrPort("1.2.3.4:1"), Dst: netip.MustParseAddrPort("1.2.3.4:2"), Payload: []byte("x")})
	setLen := func(b []byte, n int) []byte {
		b = bytes.Clone(b)
		binary.BigEndian.PutUint16(b[4:], uint16(n))
		return b
	}
	badChunk := bytes.Clone(good)
	binary.BigEndian.PutUint16(badChunk[10:], 3) // first chunk's length < 6
	noPayload, _ := hep.Encode(hep.Packet{Src: netip.MustParseAddrPort("1.2.3.4:1"), Dst: netip.MustParseAddrPort("1.2.3.4:2")})
	noPayload = noPayload[:len(noPayload)-6] // drop the empty payload chunk
	noPayload = setLen(noPayload, len(noPayload))
	wideFamily := bytes.Clone(good)
	binary.BigEndian.PutUint16(wideFamily[10:], 8) // family chunk claims 2 bytes
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, hep.ErrShort},
		{"garbage", []byte("INVITE sip:x SIP/2.0"), hep.ErrVersion},
		{"length beyond data", setLen(good, len(good)+1), hep.ErrLength},
		{"length below header", setLen(good, 3), hep.ErrLength},
		{"chunk too short", badChunk, hep.ErrChunk},
		{"chunk size mismatch", wideFamily, hep.ErrChunk},
		{"no payload", noPayload, hep.ErrNoPayload},
		{"v2 truncated", v2(true, "")[:20], hep.ErrShort},
		{"v2 bad family", []byte{2, 16, 7, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, hep.ErrVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := hep.Decode(tc.b)
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, sc := range siptest.Scenarios {
		for i, d := range recorded(f, sc) {
			if i < 4 {
				f.Add(d.Payload)
			}
		}
	}
	f.Add(v2(true, "INVITE sip:x SIP/2.0\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := hep.Decode(b)
		if err != nil {
			return
		}
		if p.Version == 3 {
			// What decodes re-encodes and decodes the same.
			e, err := hep.Encode(p)
			if err != nil {
				return
			}
			q, err := hep.Decode(e)
			if err != nil || !bytes.Equal(q.Payload, p.Payload) || q.Src != p.Src || q.Dst != p.Dst {
				t.Fatalf("re-decode: %v %+v %+v", err, p, q)
			}
		}
	})
}
