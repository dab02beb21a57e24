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

// TestWriteReadsBack: a recording's datagrams written with Write read back
// the same, IPv4 and IPv6.
func TestWriteReadsBack(t *testing.T) {
	ds := datagrams(t, "inbound_answered", "sip.pcap")
	v6 := []pcap.Datagram{{Time: time.Unix(1700000000, 123456789).UTC(), Src: netip.MustParseAddrPort("[2001:db8::1]:5060"),
		Dst: netip.MustParseAddrPort("[2001:db8::2]:5070"), Payload: []byte("OPTIONS sip:x SIP/2.0\r\n\r\n")}}
	for _, in := range [][]pcap.Datagram{ds, v6} {
		var buf bytes.Buffer
		if err := pcap.Write(&buf, in); err != nil {
			t.Fatal(err)
		}
		var out []pcap.Datagram
		if _, err := pcap.Datagrams(&buf, func(d pcap.Datagram) error {
			d.Payload = bytes.Clone(d.Payload)
			out = append(out, d)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(out) != len(in) {
			t.Fatalf("%d datagrams back, want %d", len(out), len(in))
		}
		for i := range in {
			if !out[i].Time.Equal(in[i].Time) || out[i].Src != in[i].Src || out[i].Dst != in[i].Dst || !bytes.Equal(out[i].Payload, in[i].Payload) {
				t.Fatalf("datagram %d: got %v %v>%v, want %v %v>%v", i, out[i].Time, out[i].Src, out[i].Dst, in[i].Time, in[i].Src, in[i].Dst)
			}
		}
	}
}

func datagrams(t testing.TB, sc, file string) []pcap.Datagram {
	t.Helper()
	f, err := os.Open(filepath.Join(siptest.Recordings, sc, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ds []pcap.Datagram
	if _, err := pcap.Datagrams(f, func(d pcap.Datagram) error {
		d.Payload = bytes.Clone(d.Payload)
		ds = append(ds, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ds
}
