package ami_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/bridge"
)

var (
	idHeader = regexp.MustCompile(`(?m)^([A-Za-z]*(?:Uniqueid|Linkedid|UniqueID|LinkedID|BridgeId)): (\S+)`)
	tsHeader = regexp.MustCompile(`(?m)^Timestamp: (\d+)\.(\d+)`)
)

// syntheticStream concatenates every recording, copies times over, each
// copy with its own channel, call and bridge ids and times moved on, so the
// engine sees that many distinct calls in time order.
func syntheticStream(b *testing.B, copies int) []byte {
	b.Helper()
	paths, err := filepath.Glob(filepath.Join(recordings, "*", "ami.txt"))
	if err != nil || len(paths) == 0 {
		b.Fatalf("no recordings: %v", err)
	}
	type rec struct {
		data  []byte
		first int64
	}
	var recs []rec
	var lo, hi int64
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		var first, last int64
		for _, m := range tsHeader.FindAllSubmatch(data, -1) {
			s, _ := strconv.ParseInt(string(m[1]), 10, 64)
			if first == 0 {
				first = s
			}
			last = s
		}
		if lo == 0 || first < lo {
			lo = first
		}
		hi = max(hi, last)
		recs = append(recs, rec{data, first})
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].first < recs[j].first })
	span := hi - lo + 60
	var out bytes.Buffer
	for i := range copies {
		prefix := fmt.Appendf(nil, "c%d-", i)
		for _, r := range recs {
			d := idHeader.ReplaceAll(r.data, append([]byte("$1: "), append(prefix, "$2"...)...))
			d = tsHeader.ReplaceAllFunc(d, func(m []byte) []byte {
				sm := tsHeader.FindSubmatch(m)
				s, _ := strconv.ParseInt(string(sm[1]), 10, 64)
				return fmt.Appendf(nil, "Timestamp: %d.%s", s+int64(i)*span, sm[2])
			})
			out.Write(d)
		}
	}
	return out.Bytes()
}

// BenchmarkDecodeEngine measures the whole AMI path of a replay or a live
// connection: framing, pre-filter, parse, map, and the engine.
func BenchmarkDecodeEngine(b *testing.B) {
	stream := syntheticStream(b, 50)
	var msgs, events, activities int
	var mem0, mem1 runtime.MemStats
	runtime.ReadMemStats(&mem0)
	start := time.Now()
	b.ResetTimer()
	for range b.N {
		eng := bridge.New(bridge.Config{Source: "ami", Trunks: []string{"pstn"}})
		st, err := ami.ReadRecording(bytes.NewReader(stream), func(ev bridge.Event) { activities += countActivities(eng.Apply(ev)) })
		if err != nil || st.Malformed != 0 {
			b.Fatalf("%v %+v", err, st)
		}
		eng.Flush(time.Time{})
		msgs += st.Messages
		events += st.Mapped
	}
	elapsed := time.Since(start).Seconds()
	b.StopTimer()
	runtime.ReadMemStats(&mem1)
	b.ReportMetric(float64(msgs)/elapsed, "msgs/s")
	b.ReportMetric(float64(events)/elapsed, "events/s")
	b.ReportMetric(float64(mem1.Mallocs-mem0.Mallocs)/float64(events), "allocs/event")
	b.SetBytes(int64(len(stream)))
	if activities == 0 {
		b.Fatal("the engine finished no activity: the stream is not exercising it")
	}
	b.ReportMetric(float64(activities)/float64(b.N), "activities/op")
}

func countActivities(ts []bridge.Transition) int {
	n := 0
	for _, t := range ts {
		if t.Activity != nil {
			n++
		}
	}
	return n
}
