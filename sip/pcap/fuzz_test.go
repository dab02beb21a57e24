package pcap_test

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callbridge/callbridge/sip/internal/siptest"
	"github.com/callbridge/callbridge/sip/pcap"
)

// FuzzDatagrams: any file content gives packets or an error, never a panic.
func FuzzDatagrams(f *testing.F) {
	for _, sc := range []string{"inbound_busy", "short_call"} {
		for _, file := range []string{"sip.pcap", "hep.pcap"} {
			b, err := os.ReadFile(filepath.Join(siptest.Recordings, sc, file))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b[:min(len(b), 2048)])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = pcap.Datagrams(bytes.NewReader(b), func(pcap.Datagram) error { return nil })
	})
}

// FuzzWriteRead: datagrams Write writes read back the same.
func FuzzWriteRead(f *testing.F) {
	f.Add(int64(1700000000123456789), []byte{127, 0, 0, 1}, uint16(5060), []byte{127, 0, 0, 1}, uint16(5101), []byte("INVITE sip:101@x SIP/2.0\r\n\r\n"))
	f.Add(int64(0), []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(1), []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, uint16(2), []byte{})
	f.Fuzz(func(t *testing.T, ns int64, src []byte, sport uint16, dst []byte, dport uint16, payload []byte) {
		sa, ok1 := netip.AddrFromSlice(src)
		da, ok2 := netip.AddrFromSlice(dst)
		if !ok1 || !ok2 || ns < 0 {
			return
		}
		d := pcap.Datagram{Time: time.Unix(0, ns).UTC(), Src: netip.AddrPortFrom(sa.Unmap(), sport), Dst: netip.AddrPortFrom(da.Unmap(), dport), Payload: payload}
		var buf bytes.Buffer
		if err := pcap.Write(&buf, []pcap.Datagram{d}); err != nil {
			return // different families, too long
		}
		var got []pcap.Datagram
		if _, err := pcap.Datagrams(&buf, func(g pcap.Datagram) error {
			g.Payload = bytes.Clone(g.Payload)
			got = append(got, g)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !got[0].Time.Equal(d.Time) || got[0].Src != d.Src || got[0].Dst != d.Dst || !bytes.Equal(got[0].Payload, d.Payload) {
			t.Fatalf("wrote %+v, read %+v", d, got)
		}
	})
}
