package hep_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/sip/dialog"
	"github.com/callbridge/callbridge/sip/hep"
	"github.com/callbridge/callbridge/sip/internal/siptest"
)

// BenchmarkLive is the collector as the daemon runs it: HEP over a TCP
// loopback connection, the reading goroutine, the queue, the tracking
// goroutine (HEP decode, SIP parse, dialog tracking) and the engine as
// out. The sender is in the same process, so ns/packet includes writing
// the packets; compare with ari's and ami's BenchmarkLive.
func BenchmarkLive(b *testing.B) {
	var stream [][]byte
	for r := range 16 {
		for _, sc := range siptest.Scenarios {
			for _, d := range recorded(b, sc) {
				p, err := hep.Decode(d.Payload)
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
	var all []byte
	for _, p := range stream {
		all = append(all, p...)
	}
	events := 0
	b.ReportAllocs()
	for b.Loop() {
		c, err := hep.New(hep.Config{TCP: []string{"127.0.0.1:0"}, Queue: len(stream) + 1,
			Dialog: dialog.Config{PBX: []dialog.Addr{dialog.AddrOf(netip.MustParseAddrPort("127.0.0.1:5060"))}}})
		if err != nil {
			b.Fatal(err)
		}
		eng := bridge.New(siptest.SIPConfig)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = c.Run(ctx, func(ev bridge.Event) { events++; eng.Apply(ev) })
		}()
		conn, err := net.Dial("tcp", c.TCPAddr().String())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Write(all); err != nil {
			b.Fatal(err)
		}
		for testutil.ToFloat64(c.PacketsCounter("tcp")) < float64(len(stream)) {
			time.Sleep(100 * time.Microsecond)
		}
		conn.Close()
		cancel()
		<-done
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(stream)), "ns/packet")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}
