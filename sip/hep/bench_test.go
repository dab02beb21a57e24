package hep_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/sip/dialog"
	"github.com/callbridge/callbridge/sip/hep"
	"github.com/callbridge/callbridge/sip/internal/siptest"
)

// BenchmarkPipeline measures packets per second through HEP decode, SIP
// parse, dialog tracking and the engine, over all recordings replayed as
// many distinct calls (Call-IDs rewritten per round so the tracker and
// engine see new calls, not retransmissions).
func BenchmarkPipeline(b *testing.B) {
	var calls [][][]byte
	for _, sc := range siptest.Scenarios {
		var pkts [][]byte
		for _, d := range recorded(b, sc) {
			pkts = append(pkts, d.Payload)
		}
		calls = append(calls, pkts)
	}
	// Pre-build rounds of renamed packets so the loop times the pipeline
	// only.
	const rounds = 64
	var stream [][]byte
	for r := 0; r < rounds; r++ {
		for _, pkts := range calls {
			for _, raw := range pkts {
				p, err := hep.Decode(raw)
				if err != nil {
					continue
				}
				p.Payload = []byte(renameCallIDs(string(p.Payload), r))
				e, err := hep.Encode(p)
				if err != nil {
					b.Fatal(err)
				}
				stream = append(stream, e)
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		tr := dialog.New(dialog.Config{PBX: []dialog.Addr{dialog.AddrOf(netip.MustParseAddrPort("127.0.0.1:5060"))}})
		eng := bridge.New(siptest.SIPConfig)
		out := func(ev bridge.Event) { eng.Apply(ev) }
		for _, raw := range stream {
			p, err := hep.Decode(raw)
			if err != nil || p.ProtoType != hep.ProtoSIP {
				continue
			}
			_ = tr.Feed(dialog.Message{Time: p.Time, Src: p.Src, Dst: p.Dst, Payload: p.Payload}, out)
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "packets/s")
}

// renameCallIDs makes round r's Call-IDs unique.
func renameCallIDs(msg string, r int) string {
	lines := strings.Split(msg, "\r\n")
	for i, l := range lines {
		if k, v, ok := strings.Cut(l, ":"); ok && (strings.EqualFold(k, "Call-ID") || k == "i") {
			lines[i] = fmt.Sprintf("%s: r%d-%s", k, r, strings.TrimSpace(v))
		}
	}
	return strings.Join(lines, "\r\n")
}
