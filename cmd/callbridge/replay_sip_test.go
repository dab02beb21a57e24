package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callbridge/callbridge/sip/pcap"
)

// capture writes a recording's sip.pcap to a temporary file, keeping the
// datagrams keep accepts, with edit applied to each payload.
func capture(t *testing.T, sc string, keep func(payload string) bool, edit func(string) string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("../../testdata/recordings", sc, "sip.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ds []pcap.Datagram
	if _, err := pcap.Datagrams(f, func(d pcap.Datagram) error {
		p := string(d.Payload)
		if keep == nil || keep(p) {
			if edit != nil {
				p = edit(p)
			}
			d.Payload = []byte(p)
			ds = append(ds, d)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := pcap.Write(&buf, ds); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), sc+".pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func sipConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A capture of one dialog between two parties, neither naming itself,
// cannot tell which is the PBX: replay says so, naming the key;
// sip.pbx_addresses in --config settles it, as it does for `run`.
func TestReplayPcapPBXAddresses(t *testing.T) {
	// Only 101's own call to the conference number: 101 and the PBX,
	// without the User-Agent and Server headers that name Asterisk.
	anonymous := func(p string) string {
		var keep []string
		for _, l := range strings.Split(p, "\r\n") {
			if !strings.HasPrefix(l, "User-Agent:") && !strings.HasPrefix(l, "Server:") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\r\n")
	}
	one := capture(t, "conference_room", func(p string) bool { return strings.Contains(p, "sip:101@") || strings.Contains(p, "<sip:101@") }, anonymous)
	code, out, errOut := call(t, "replay", "--pcap", one)
	if code == 0 || !strings.Contains(errOut, "sip.pbx_addresses") || out != "" {
		t.Fatalf("without the PBX address: exit %d\n%s\n%s", code, out, errOut)
	}
	cfg := sipConfig(t, "trunks: [pstn]\nsip:\n  pbx_addresses: [\"127.0.0.1:5060\"]\n")
	code, out, errOut = call(t, "replay", "--pcap", one, "--config", cfg)
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"user":"101","local_number":"101","direction":"outbound"`) {
		t.Fatalf("with sip.pbx_addresses: exit %d\n%s\n%s", code, out, errOut)
	}
}

// A carrier presenting a caller number that looks like an extension makes
// that caller a user, unless sip.trunk_addresses says the carrier is a
// trunk.
func TestReplayPcapTrunkAddresses(t *testing.T) {
	short := capture(t, "inbound_answered", nil, func(p string) string { return strings.ReplaceAll(p, "+358401234567", "4321") })
	code, out, errOut := call(t, "replay", "--pcap", short, "--all")
	if code != 0 || !strings.Contains(out, `"user":"4321"`) {
		t.Fatalf("without trunk addresses the caller should read as user 4321: exit %d\n%s\n%s", code, out, errOut)
	}
	cfg := sipConfig(t, "trunks: [pstn]\nsip:\n  trunk_addresses: [\"127.0.0.1:5090\"]\n")
	code, out, errOut = call(t, "replay", "--pcap", short, "--config", cfg, "--all")
	if code != 0 || strings.Count(out, "\n") != 1 || strings.Contains(out, `"user":"4321"`) ||
		!strings.Contains(out, `"user":"101","local_number":"101","direction":"inbound","internal":false,"state":"connected","reason":"answered","remote_number":"4321"`) {
		t.Fatalf("with sip.trunk_addresses: exit %d\n%s\n%s", code, out, errOut)
	}
}

// sip.conferences makes the calls to a room one conference: 101 is
// connected from when the external caller joins, as ARI sees it.
func TestReplayPcapConferences(t *testing.T) {
	rec := "../../testdata/recordings/conference_room/sip.pcap"
	code, out, errOut := call(t, "replay", "--pcap", rec, "--all")
	if code != 0 || !strings.Contains(out, `"state":"unaccepted"`) {
		t.Fatalf("without sip.conferences: exit %d\n%s\n%s", code, out, errOut)
	}
	cfg := sipConfig(t, "trunks: [pstn]\nsip:\n  conferences:\n    \"800\": [\"800\", \"+35850111800\"]\n")
	code, out, errOut = call(t, "replay", "--pcap", rec, "--config", cfg, "--all")
	if code != 0 || !strings.Contains(out, `"state":"connected","reason":"answered","remote_number":"800"`) ||
		!strings.Contains(out, `"answered_at":"2026-12-01T08:25:30.976Z"`) {
		t.Fatalf("with sip.conferences: exit %d\n%s\n%s", code, out, errOut)
	}
}
