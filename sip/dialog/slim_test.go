package dialog_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/callbridge/callbridge/sip/dialog"
	"github.com/callbridge/callbridge/sip/hep"
	"github.com/callbridge/callbridge/sip/internal/siptest"
	"github.com/callbridge/callbridge/sip/pcap"
)

// recordedPayloads are the SIP messages of every recording and every lab
// recording, as the HEP collector receives them (hep.pcap) and as a
// capture holds them (sip.pcap).
func recordedPayloads(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, dir := range []struct {
		root string
		scs  []string
	}{{siptest.Recordings, siptest.Scenarios}, {siptest.Lab, siptest.LabScenarios}} {
		for _, sc := range dir.scs {
			out = append(out, payloads(t, filepath.Join(dir.root, sc))...)
		}
	}
	return out
}

func payloads(t testing.TB, dir string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, name := range []string{"hep.pcap", "sip.pcap"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "sip.pcap" {
			_, err = pcap.Messages(f, func(m dialog.Message) error {
				out = append(out, bytes.Clone(m.Payload))
				return nil
			})
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		_, err = pcap.Datagrams(f, func(d pcap.Datagram) error {
			p, err := hep.Decode(d.Payload)
			if err != nil {
				t.Fatalf("%s: %v", dir, err)
			}
			out = append(out, bytes.Clone(p.Payload))
			return nil
		})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestSlimParseRecorded: on every message of every recording, what the
// tracker reads from the slim copy it parses is what it reads from the
// whole message.
func TestSlimParseRecorded(t *testing.T) {
	ps := recordedPayloads(t)
	if len(ps) < 1000 {
		t.Fatalf("only %d recorded messages", len(ps))
	}
	for i, p := range ps {
		if slim, full := dialog.ParseBoth(p); slim != full {
			t.Fatalf("message %d:\n%s\nslim parse:\n%s\nfull parse:\n%s", i, p, slim, full)
		}
	}
}

// FuzzSlimParse: whatever the message, the slim parse and the full one
// agree on what the tracker reads, errors included.
func FuzzSlimParse(f *testing.F) {
	for _, p := range recordedPayloads(f) {
		f.Add(p)
	}
	for _, s := range []string{
		"INVITE sip:1@h SIP/2.0\r\nVia: x\r\n folded\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
		"INVITE sip:1@h SIP/2.0\r\nVia x\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
		"SIP/2.0 200 OK\r\nX: y\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\ni: c\r\nCSeq: 1 INVITE\r\nl: 400\r\n\r\nv=0\r\n",
		"SIP/2.0 302 Moved\r\nm: <sip:9@h>\r\nf: <sip:a@h>;tag=1\r\nt: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nUser-Agent: Asterisk\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if slim, full := dialog.ParseBoth(p); slim != full {
			t.Fatalf("%q:\nslim parse:\n%s\nfull parse:\n%s", p, slim, full)
		}
	})
}
