package pcap_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

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
