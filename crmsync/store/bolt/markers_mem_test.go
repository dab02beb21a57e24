package bolt

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	bbolt "go.etcd.io/bbolt"
)

// BenchmarkMarkerTableMemory reports the heap the in-memory marker table
// takes per marker, as bytes/marker: at MarkerRetention's worth of a busy
// site (30 days of 50,000 activities: 1.5M markers) and at 1M, where the
// table has just grown.
func BenchmarkMarkerTableMemory(b *testing.B) {
	for _, n := range []int{1_000_000, 1_500_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchTable(b, n) })
	}
}

func benchTable(b *testing.B, n int) {
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
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "bytes/marker")
		runtime.KeepAlive(m)
	}
}

// BenchmarkLoadMarkers is the table's build at Open from a log of 1.5M
// delivered markers (the enqueued ones of the same ids, pruned or not,
// add a scan but no entries).
func BenchmarkLoadMarkers(b *testing.B) {
	const n = 1_500_000
	db, err := bbolt.Open(filepath.Join(b.TempDir(), FileName), 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		c, err := connBuckets(tx, "hook", true)
		if err != nil {
			return err
		}
		c.get(bLog).FillPercent = 1
		for i := range n {
			seq, _ := c.get(bLog).NextSequence()
			if err := c.get(bLog).Put(cat(u64(uint64(i)), u64(seq)), fmt.Appendf([]byte{markDone}, "%032x", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		err := db.Update(func(tx *bbolt.Tx) error {
			m, err := loadMarkers(tx)
			if err == nil && len(m.by["hook"]) != n {
				b.Fatalf("table holds %d markers, want %d", len(m.by["hook"]), n)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
