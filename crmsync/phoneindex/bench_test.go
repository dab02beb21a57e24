package phoneindex

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

const benchNumbers = 1_000_000

var (
	bigOnce  sync.Once
	bigIndex *Index
	bigNums  []string
)

// buildIndex indexes n Finnish mobile numbers, one contact each, with
// Dataverse-style ids, the way a large CRM looks after a full sync.
func buildIndex(tb testing.TB, n int) (*Index, []string) {
	r := rand.New(rand.NewPCG(1, 2))
	ix, err := NewIndex(DefaultEntities(), Options{Region: "FI"})
	if err != nil {
		tb.Fatal(err)
	}
	nums := make([]string, 0, n)
	for i := 0; len(nums) < n; i++ {
		num := fmt.Sprintf("+35840%07d", r.IntN(10_000_000))
		ix.Put(Record{Entity: "contact", ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), Name: fmt.Sprintf("Contact %d", i),
			Phones: []string{num}, Modified: t0})
		nums = append(nums, num)
	}
	return ix, nums
}

// offHeapBytes is what the index's arrays take.
func (ix *Index) offHeapBytes() int {
	m := ix.mem
	return len(m.arena.mem) + len(m.recs.mem) + len(m.keys.mem) + m.exact.bytes() + m.tails.bytes() + m.byID.bytes()
}

// bigIdx is buildIndex of a million numbers, made once.
func bigIdx(b *testing.B) (*Index, []string) {
	bigOnce.Do(func() {
		ix, nums := buildIndex(b, benchNumbers)
		bigIndex, bigNums = ix, nums
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
	b.ReportMetric(float64(ix.offHeapBytes())/float64(ix.Numbers()), "B/number")
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

// BenchmarkLoad1M measures the start of a daemon whose cache holds a
// million numbers: a fresh process (this test binary again) opens the
// integration from its file and answers lookups. Reported: the time from
// Open to the index being ready (wall and CPU time: on a busy machine the
// wall time says how long the process waited for a core), and the
// process's peak and final RSS after 100,000 lookups;
// empty-* are the same process opening an empty cache, the baseline of a
// Go process that does nothing else.
func BenchmarkLoad1M(b *testing.B) {
	dir := b.TempDir()
	for _, n := range []int{0, benchNumbers} {
		ix, _ := buildIndex(b, n)
		settings := Settings{Entities: DefaultEntities(), Region: "FI", Enabled: true}
		if err := (FileStore{Dir: dir}).Save(context.Background(), fmt.Sprint("n", n), &Snapshot{Settings: settings, State: State{LastFull: t0}, index: ix}); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	var load, loadCPU, peak, rss, empty, emptyPeak float64
	for b.Loop() {
		m0 := loadChild(b, dir, "n0")
		m := loadChild(b, dir, fmt.Sprint("n", benchNumbers))
		load, loadCPU, peak, rss = m["load_ns"], m["load_cpu_ns"], m["hwm_kb"], m["rss_kb"]
		empty, emptyPeak = m0["rss_kb"], m0["hwm_kb"]
	}
	b.ReportMetric(load/1e6, "load-ms")
	b.ReportMetric(loadCPU/1e6, "load-CPU-ms")
	b.ReportMetric(peak/1024, "peak-RSS-MB")
	b.ReportMetric(rss/1024, "RSS-MB")
	b.ReportMetric(emptyPeak/1024, "empty-peak-RSS-MB")
	b.ReportMetric(empty/1024, "empty-RSS-MB")
}

func loadChild(b *testing.B, dir, name string) map[string]float64 {
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PHONEINDEX_LOAD_DIR="+dir, "PHONEINDEX_LOAD_NAME="+name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%v\n%s", err, out)
	}
	m := map[string]float64{}
	for _, f := range strings.Fields(string(out)) {
		if k, v, ok := strings.Cut(f, "="); ok {
			if x, err := strconv.ParseFloat(v, 64); err == nil {
				m[k] = x
			}
		}
	}
	if _, ok := m["load_ns"]; !ok {
		b.Fatalf("child said %s", out)
	}
	return m
}

// TestLoadChild is BenchmarkLoad1M's child; it does nothing in a plain run.
func TestLoadChild(t *testing.T) {
	dir, name := os.Getenv("PHONEINDEX_LOAD_DIR"), os.Getenv("PHONEINDEX_LOAD_NAME")
	if dir == "" {
		t.Skip("run by BenchmarkLoad1M")
	}
	settings := Settings{Entities: DefaultEntities(), Region: "FI", Enabled: true}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start, cpu0 := time.Now(), cpu()
	in, err := Open(context.Background(), name, nopSource{}, FileStore{Dir: dir}, settings, IntegrationOptions{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	load, loadCPU := time.Since(start), cpu()-cpu0
	st := in.Status()
	for i := range 100_000 {
		in.Lookup(fmt.Sprintf("040%07d", i))
	}
	runtime.GC()
	status, _ := os.ReadFile("/proc/self/status")
	kb := func(key string) string {
		for _, l := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(l, key+":"); ok {
				return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			}
		}
		return "0"
	}
	fmt.Printf("load_ns=%d load_cpu_ns=%d numbers=%d hwm_kb=%s rss_kb=%s\n", load.Nanoseconds(), loadCPU.Nanoseconds(), st.Numbers, kb("VmHWM"), kb("VmRSS"))
}

type nopSource struct{}

func (nopSource) Records(context.Context, Entity, time.Time, func([]Record) error) error { return nil }

// BenchmarkAttrsBytes reports what the arrays take per number for records
// as the SaaS presets deliver them (Salesforce: 18-character ids, every
// record its Lightning URL, a contact its account), with and without
// those attributes, over 100,000 numbers.
func BenchmarkAttrsBytes(b *testing.B) {
	for _, with := range []bool{false, true} {
		b.Run(fmt.Sprint("attrs=", with), func(b *testing.B) {
			var per float64
			for b.Loop() {
				ix, err := NewIndex(DefaultEntities(), Options{Region: "FI"})
				if err != nil {
					b.Fatal(err)
				}
				for i := range 100_000 {
					r := Record{Entity: "contact", ID: fmt.Sprintf("003%012dAAC", i), Name: fmt.Sprintf("Contact %d", i),
						Phones: []string{fmt.Sprintf("+35840%07d", i)}, Modified: t0}
					if with {
						r.URL = "https://example.my.salesforce.com/lightning/r/Contact/" + r.ID + "/view"
						r.Org = fmt.Sprintf("001%012dAAC", i/10)
					}
					ix.Put(r)
				}
				ix.Compact()
				per = float64(ix.offHeapBytes()) / float64(ix.Numbers())
			}
			b.ReportMetric(per, "B/number")
		})
	}
}
