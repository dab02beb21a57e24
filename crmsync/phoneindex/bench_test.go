package phoneindex

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

const benchNumbers = 1_000_000

var (
	bigOnce  sync.Once
	bigIndex *Index
	bigNums  []string
	bigBytes float64
)

// bigIdx indexes a million Finnish mobile numbers, one contact each, the
// way a large CRM looks after a full sync.
func bigIdx(b *testing.B) (*Index, []string) {
	bigOnce.Do(func() {
		r := rand.New(rand.NewPCG(1, 2))
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ix, err := NewIndex(DefaultEntities(), Options{Region: "FI"})
		if err != nil {
			b.Fatal(err)
		}
		nums := make([]string, 0, benchNumbers)
		for i := 0; len(nums) < benchNumbers; i++ {
			n := fmt.Sprintf("+35840%07d", r.IntN(10_000_000))
			ix.Put(Record{Entity: "contact", ID: fmt.Sprintf("%08x-0000-0000-0000-%012x", i, i), Name: "Contact Person", Phones: []string{n}, Modified: t0})
			nums = append(nums, n)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		bigIndex, bigNums = ix, nums
		bigBytes = float64(after.HeapAlloc-before.HeapAlloc) / float64(ix.Numbers())
		runtime.KeepAlive(nums)
	})
	return bigIndex, bigNums
}

// BenchmarkLookup1M measures a lookup among a million numbers, as the PBX
// presents them (national form, normalised on the way), reporting p50 and
// p99 latency and the index's memory per number (the numbers' strings in
// the benchmark itself excluded only approximately: they are ~30 B each).
func BenchmarkLookup1M(b *testing.B) {
	ix, nums := bigIdx(b)
	lat := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		n := "0" + nums[i%len(nums)][4:] // +35840... -> 040...
		s := time.Now()
		if _, ok := ix.Lookup(n); !ok {
			b.Fatalf("%s not found", n)
		}
		lat = append(lat, time.Since(s))
		i++
	}
	reportPercentiles(b, lat)
	b.ReportMetric(bigBytes, "heapB/number")
}

// BenchmarkLookupE164_1M is the same for an activity's remote_e164, which
// skips the normaliser.
func BenchmarkLookupE164_1M(b *testing.B) {
	ix, nums := bigIdx(b)
	lat := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		n := nums[(i*7919)%len(nums)]
		s := time.Now()
		if _, ok := ix.LookupE164(n); !ok {
			b.Fatalf("%s not found", n)
		}
		lat = append(lat, time.Since(s))
		i++
	}
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkPut measures indexing, the CPU part of a sync.
func BenchmarkPut(b *testing.B) {
	ix, err := NewIndex(DefaultEntities(), Options{Region: "FI"})
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		ix.Put(Record{Entity: "contact", ID: fmt.Sprint(i), Phones: []string{fmt.Sprintf("040%07d", i%10_000_000)}, Modified: t0})
		i++
	}
}
