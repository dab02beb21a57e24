package hep_test

import (
	"fmt"
	"net/netip"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/sip/dialog"
	"github.com/callbridge/callbridge/sip/hep"
	"github.com/callbridge/callbridge/sip/internal/siptest"
)

var benchTag = regexp.MustCompile(`;tag=([^;>\s,]+)`)

// calls builds n copies of a recorded call as HEP packets: each its own
// Call-IDs, tags, caller number and trunk address (many callers, as on a
// busy PBX), copy k starting at k × gap.
func calls(b *testing.B, sc string, n int, gap time.Duration) [][]byte {
	b.Helper()
	ds := recorded(b, sc)
	type pkt struct {
		at time.Time
		b  []byte
	}
	var all []pkt
	base := time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)
	for k := range n {
		caller := fmt.Sprintf("+35840%07d", k)
		tk := netip.AddrFrom4([4]byte{10, byte(k >> 16), byte(k >> 8), byte(k)})
		for _, d := range ds {
			p, err := hep.Decode(d.Payload)
			if err != nil {
				b.Fatal(err)
			}
			lines := strings.Split(string(p.Payload), "\r\n")
			for j, l := range lines {
				if l == "" {
					break
				}
				name, v, _ := strings.Cut(l, ":")
				switch strings.ToLower(strings.TrimSpace(name)) {
				case "call-id", "i":
					lines[j] = fmt.Sprintf("%s: b%d-%s", name, k, strings.TrimSpace(v))
				case "from", "f", "to", "t":
					lines[j] = benchTag.ReplaceAllString(l, fmt.Sprintf(";tag=b%d-$1", k))
				}
				lines[j] = strings.ReplaceAll(lines[j], "+358401234567", caller)
			}
			p.Payload = []byte(strings.Join(lines, "\r\n"))
			if p.Src.Port() == 5090 {
				p.Src = netip.AddrPortFrom(tk, 5060)
			}
			if p.Dst.Port() == 5090 {
				p.Dst = netip.AddrPortFrom(tk, 5060)
			}
			p.Time = base.Add(time.Duration(k)*gap + p.Time.Sub(ds[0].Time))
			e, err := hep.Encode(p)
			if err != nil {
				b.Fatal(err)
			}
			all = append(all, pkt{p.Time, e})
		}
	}
	slices.SortStableFunc(all, func(x, y pkt) int { return x.at.Compare(y.at) })
	out := make([][]byte, len(all))
	for i, p := range all {
		out[i] = p.b
	}
	return out
}

// BenchmarkConcurrentDialogs measures HEP packets per second through the
// collector's per-packet path (HEP decode, SIP parse, dialog tracking,
// engine) and the memory held per open dialog, for 5,000 copies of
// inbound_answered (two dialogs each): "baseline" plays them one after
// another (never more than two dialogs open), "10000" starts one every
// millisecond, so that all 10,000 dialogs are open at once. Both process
// the same packets; compare the two in one run.
func BenchmarkConcurrentDialogs(b *testing.B) {
	const n = 5000
	for _, tc := range []struct {
		name string
		gap  time.Duration
		peak int
	}{{"baseline", 20 * time.Second, 2}, {"10000", time.Millisecond, 2 * n}} {
		b.Run(tc.name, func(b *testing.B) {
			pkts := calls(b, "inbound_answered", n, tc.gap)
			pbx := []dialog.Addr{dialog.AddrOf(netip.MustParseAddrPort("127.0.0.1:5060"))}
			var perDialog float64
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				eng := bridge.New(siptest.SIPConfig)
				acts := 0
				f := hep.NewFeeder(hep.Config{Logger: zerolog.Nop(), Dialog: dialog.Config{PBX: pbx}}, func(ev bridge.Event) {
					for _, tr := range eng.Apply(ev) {
						if tr.Activity != nil {
							acts++
						}
					}
				})
				peak, measured := 0, false
				var before runtime.MemStats
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&before)
				b.StartTimer()
				for _, p := range pkts {
					if err := f.Packet(p, "udp"); err != nil {
						b.Fatal(err)
					}
					if live := f.Stats().Live; live > peak {
						peak = live
						if live == tc.peak && tc.peak > 2 && !measured {
							b.StopTimer()
							var at runtime.MemStats
							runtime.GC()
							runtime.ReadMemStats(&at)
							perDialog = float64(int64(at.HeapAlloc)-int64(before.HeapAlloc)) / float64(live)
							measured = true
							b.StartTimer()
						}
					}
				}
				if err := f.Flush(); err != nil {
					b.Fatal(err)
				}
				if peak < tc.peak || acts != n {
					b.Fatalf("peak %d open dialogs, %d activities; want %d and %d", peak, acts, tc.peak, n)
				}
			}
			b.ReportMetric(float64(len(pkts)*b.N)/b.Elapsed().Seconds(), "packets/s")
			// On a shared machine wall time counts the other jobs too;
			// the process's CPU time (including the untimed GC and heap
			// readings, a small share) is what the work costs.
			b.ReportMetric(float64(len(pkts)*b.N)/(cpuTime()-cpu0).Seconds(), "packets/cpu-s")
			if tc.peak > 2 {
				b.ReportMetric(perDialog, "heapB/dialog")
			}
		})
	}
}

// cpuTime is the CPU time the process used so far (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
