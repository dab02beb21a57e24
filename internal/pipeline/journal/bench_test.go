package journal

import (
	"fmt"
	"path/filepath"
	"sort"
	"testing"

	"github.com/callbridge/callbridge/bridge"
)

// overlapped is a workload in which calls never drop to zero, like the
// race kit's overlap mode: copies of every recording's events, their
// channel ids made unique per copy, interleaved one event from each copy
// in turn, about n events in all. last says, per channel id, the index of
// the last event about it: compaction keeps the events of channels still
// to be heard from.
func overlapped(b *testing.B, n int) (evs []bridge.Event, last map[string]int) {
	recs := recordings(b)
	names := make([]string, 0, len(recs))
	for name := range recs {
		names = append(names, name)
	}
	sort.Strings(names)
	var base []bridge.Event
	for _, name := range names {
		base = append(base, recs[name]...)
	}
	copies := max(1, n/len(base))
	tag := func(id string, k int) string {
		if id == "" {
			return ""
		}
		return fmt.Sprintf("%s#%d", id, k)
	}
	last = map[string]int{}
	note := func(id string) {
		if id != "" {
			last[id] = len(evs)
		}
	}
	for i := range base {
		for k := range copies {
			ev := base[i]
			ev.Channel.ID, ev.Peer.ID = tag(ev.Channel.ID, k), tag(ev.Peer.ID, k)
			ev.Second, ev.Target = tag(ev.Second, k), tag(ev.Target, k)
			if ev.Channels != nil {
				chans := make([]bridge.Channel, len(ev.Channels))
				for c, ch := range ev.Channels {
					ch.ID = tag(ch.ID, k)
					chans[c] = ch
					note(ch.ID)
				}
				ev.Channels = chans
			}
			for _, id := range []string{ev.Channel.ID, ev.Peer.ID, ev.Second, ev.Target} {
				note(id)
			}
			evs = append(evs, ev)
		}
	}
	return evs, last
}

// compactEvery is the engine stage's (internal/pipeline).
const compactEvery = 20000

// BenchmarkJournal measures what the journal costs per event over the
// overlapped workload: appending every event and compacting as the engine
// stage does (when the journal has twice what the last compaction kept,
// at least compactEvery events). json is the journal before the binary
// format, measured in the same run: one JSON encoding and one write per
// event, compaction by replaying the file. binary writes each event with
// a write of its own (a source that cannot tell its batches); batch=16
// writes sixteen events a write.
func BenchmarkJournal(b *testing.B) {
	evs, last := overlapped(b, 100000)
	b.Run("json", func(b *testing.B) {
		for range b.N {
			j, err := openJSON(filepath.Join(b.TempDir(), "j"))
			if err != nil {
				b.Fatal(err)
			}
			at, compactAt := 0, compactEvery
			keep := func(ev *bridge.Event) bool {
				if ev.Kind == bridge.Snapshot {
					kept := ev.Channels[:0]
					for _, c := range ev.Channels {
						if last[c.ID] > at {
							kept = append(kept, c)
						}
					}
					ev.Channels = kept
					return len(kept) > 0
				}
				return last[ev.Channel.ID] > at || last[ev.Peer.ID] > at || last[ev.Second] > at || last[ev.Target] > at
			}
			for i, ev := range evs {
				if err := j.Append(ev); err != nil {
					b.Fatal(err)
				}
				if at = i; j.Len() >= compactAt {
					if err := j.Compact(keep); err != nil {
						b.Fatal(err)
					}
					compactAt = max(compactEvery, 2*j.Len())
				}
			}
			j.Close()
		}
		perEvent(b, len(evs))
	})
	for _, batch := range []int{1, 16} {
		name := "binary"
		if batch > 1 {
			name = fmt.Sprintf("binary/batch=%d", batch)
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				j, err := Open(filepath.Join(b.TempDir(), "j"))
				if err != nil {
					b.Fatal(err)
				}
				at, compactAt := 0, compactEvery
				open := func(id string) bool { return last[id] > at }
				for i, ev := range evs {
					if err := j.Append(ev); err != nil {
						b.Fatal(err)
					}
					if i%batch != batch-1 {
						continue
					}
					if err := j.Flush(); err != nil {
						b.Fatal(err)
					}
					if at = i; j.Len() >= compactAt {
						if err := j.Compact(open); err != nil {
							b.Fatal(err)
						}
						compactAt = max(compactEvery, 2*j.Len())
					}
				}
				j.Close()
			}
			perEvent(b, len(evs))
		})
	}
}

// BenchmarkReplay measures a restart's replay of a journal of 20,000
// events of the overlapped workload, in the JSON format and the binary.
func BenchmarkReplay(b *testing.B) {
	evs, _ := overlapped(b, 100000)
	evs = evs[:compactEvery]
	dir := b.TempDir()
	jj, _ := openJSON(filepath.Join(dir, "json"))
	bj, _ := Open(filepath.Join(dir, "binary"))
	for _, ev := range evs {
		jj.Append(ev)
		bj.Append(ev)
	}
	bj.Flush()
	jj.Close()
	bj.Close()
	b.Run("json", func(b *testing.B) {
		for range b.N {
			j, _ := openJSON(filepath.Join(dir, "json"))
			if n, err := j.Replay(func(bridge.Event) {}); err != nil || n != len(evs) {
				b.Fatal(n, err)
			}
			j.Close()
		}
		perEvent(b, len(evs))
	})
	b.Run("binary", func(b *testing.B) {
		for range b.N {
			j, _ := Open(filepath.Join(dir, "binary"))
			if n, err := j.Replay(func(bridge.Event) {}); err != nil || n != len(evs) {
				b.Fatal(n, err)
			}
			j.Close()
		}
		perEvent(b, len(evs))
	})
}

func perEvent(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}

// BenchmarkEncode measures encoding alone, over the overlapped workload:
// v1 is the record of version 1 (each event with its channels in full,
// as the journal wrote it before version 2), v2 the records of version 2
// with a codec that starts empty (descriptions, references, notes).
func BenchmarkEncode(b *testing.B) {
	evs, _ := overlapped(b, 100000)
	b.Run("v1", func(b *testing.B) {
		var buf []byte
		for range b.N {
			for i := range evs {
				buf = appendRecordV1(buf[:0], &evs[i])
			}
		}
		perEvent(b, len(evs))
	})
	b.Run("v2", func(b *testing.B) {
		var buf []byte
		var recs []rec
		for range b.N {
			var c codec
			for i := range evs {
				buf, recs = c.encode(buf[:0], &evs[i], recs[:0])
			}
		}
		perEvent(b, len(evs))
	})
}
