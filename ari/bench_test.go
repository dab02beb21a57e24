package ari

import (
	"testing"

	"github.com/callbridge/callbridge/bridge"
)

// BenchmarkDecodeEngine measures the ARI path as the live source runs it:
// ari/v5's decoder, Map and the engine, over a stream made of every
// recording played back to back many times (each call ends before the next
// copy starts; ids repeat, which the engine allows once a call is done).
// Reported: events/s on one goroutine and allocations per event.
func BenchmarkDecodeEngine(b *testing.B) {
	lines := recordingLines(b)
	var bytesPerEvent int
	for _, l := range lines {
		bytesPerEvent += len(l)
	}
	bytesPerEvent /= len(lines)
	e := bridge.New(bridge.Config{Source: "ari", Trunks: []string{"pstn"}})
	b.SetBytes(int64(bytesPerEvent))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev, ok, err := Decode(lines[i%len(lines)])
		if err != nil {
			b.Fatal(err)
		}
		if ok {
			e.Apply(ev)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEngine measures the engine alone on pre-decoded events.
func BenchmarkEngine(b *testing.B) {
	var evs []bridge.Event
	for _, l := range recordingLines(b) {
		if ev, ok, err := Decode(l); err == nil && ok {
			evs = append(evs, ev)
		}
	}
	e := bridge.New(bridge.Config{Source: "ari", Trunks: []string{"pstn"}})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Apply(evs[i%len(evs)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
