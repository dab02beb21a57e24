package bolt

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkMarkerTableMemory reports the heap the in-memory marker table
// takes per marker at MarkerRetention's worth of a busy site (30 days of
// 50,000 activities: 1.5M markers), as bytes/marker.
func BenchmarkMarkerTableMemory(b *testing.B) {
	const n = 1_500_000
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m := &markers{by: map[string]map[idHash]byte{}}
		staged := map[markKey]byte{}
		for i := range n {
			staged[markKey{"hook", hashID(fmt.Appendf(nil, "%032x", i))}] = markDone
			if len(staged) == 4096 || i == n-1 {
				m.apply(staged)
				clear(staged)
			}
		}
		staged = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		if len(m.by["hook"]) != n {
			b.Fatalf("table holds %d markers, want %d", len(m.by["hook"]), n)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/marker")
		runtime.KeepAlive(m)
	}
}
