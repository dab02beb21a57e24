package journal

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

func ev(id string, sec int) bridge.Event {
	return bridge.Event{Kind: bridge.ChannelCreated, Time: time.Unix(int64(sec), 0).UTC(),
		Channel: bridge.Channel{ID: id, Name: "PJSIP/101-" + id, State: bridge.StateRing}}
}

func replay(t *testing.T, j *Journal) []bridge.Event {
	t.Helper()
	var got []bridge.Event
	if _, err := j.Replay(func(e bridge.Event) { got = append(got, e) }); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestAppendReplayResetCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "ari.jsonl")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"a", "b", "c"} {
		if err := j.Append(ev(id, i)); err != nil {
			t.Fatal(err)
		}
	}
	j.Append(bridge.Event{Kind: bridge.Snapshot, Channels: []bridge.Channel{{ID: "a"}, {ID: "c"}, {ID: "z"}}})
	j.Flush()
	j.Close()

	j, _ = Open(path)
	got := replay(t, j)
	if len(got) != 4 || got[1].Channel.ID != "b" || !got[2].Time.Equal(time.Unix(2, 0)) || j.Len() != 4 {
		t.Fatalf("%+v", got)
	}
	// Keep what mentions a or c; trim the snapshot likewise.
	err = j.Compact(func(id string) bool { return id == "a" || id == "c" })
	if err != nil {
		t.Fatal(err)
	}
	j.Append(ev("d", 9))
	got = replay(t, j)
	if len(got) != 4 || got[0].Channel.ID != "a" || got[1].Channel.ID != "c" || len(got[2].Channels) != 2 ||
		got[2].Channels[1].ID != "c" || got[3].Channel.ID != "d" || j.Len() != 4 {
		t.Fatalf("after compact: %+v", got)
	}
	// A compacted journal compacts again from what it noted (the spliced
	// snapshot's channels included) and replays after a reopen.
	if err := j.Compact(func(id string) bool { return id == "c" || id == "d" }); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, _ = Open(path)
	got = replay(t, j)
	if len(got) != 3 || got[0].Channel.ID != "c" || len(got[1].Channels) != 1 || got[1].Channels[0].ID != "c" || got[2].Channel.ID != "d" {
		t.Fatalf("after a second compaction: %+v", got)
	}
	if err := j.Reset(); err != nil || j.Len() != 0 {
		t.Fatal(err)
	}
	j.Append(ev("e", 10))
	if got = replay(t, j); len(got) != 1 || got[0].Channel.ID != "e" {
		t.Fatalf("after reset: %+v", got)
	}
	j.Close()
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Error("compaction left its temporary file")
	}
}

// A process killed mid-write leaves a torn record, and a machine crash
// may leave one whose bytes never reached the disk: replay keeps what is
// whole, cuts the rest, and appends continue after the last whole record.
func TestTornLastRecord(t *testing.T) {
	for name, tear := range map[string]func(whole []byte) []byte{
		"cut short":    func(b []byte) []byte { return b[:len(b)-3] },
		"frame only":   func(b []byte) []byte { return b[:5] },
		"zeroed bytes": func(b []byte) []byte { return append(b[:frameLen:frameLen], make([]byte, len(b)-frameLen)...) },
	} {
		path := filepath.Join(t.TempDir(), "j")
		j, _ := Open(path)
		j.Append(ev("a", 1))
		j.Flush()
		j.Close()
		// x's batch: its description and its event.
		b, recs := encodeAll([]bridge.Event{ev("x", 2)})
		if len(recs) != 2 || !recs[0].isDesc() {
			t.Fatalf("x's records: %+v", recs)
		}
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		f.Write(tear(b))
		f.Close()

		j, _ = Open(path)
		if got := replay(t, j); len(got) != 1 {
			t.Fatalf("%s: %+v", name, got)
		}
		j.Append(ev("b", 2))
		j.Flush()
		if got := replay(t, j); len(got) != 2 || got[1].Channel.ID != "b" {
			t.Fatalf("%s: %+v", name, got)
		}
		j.Close()
	}
}

func ptr(e bridge.Event) *bridge.Event { return &e }

// A damaged record in the middle is an error that says where, not a
// silent loss of the calls after it.
func TestCorruptRecordIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, _ := Open(path)
	for i, id := range []string{"a", "b", "c"} {
		j.Append(ev(id, i))
		j.Flush() // a batch each
	}
	j.Close()
	b, _ := os.ReadFile(path)
	a, _ := encodeAll([]bridge.Event{ev("a", 0)})
	b[len(header)+len(a)+frameLen+3] ^= 0xff // in the second batch
	os.WriteFile(path, b, 0o600)
	j, _ = Open(path)
	defer j.Close()
	if _, err := j.Replay(func(bridge.Event) {}); err == nil || !strings.Contains(err.Error(), "batch 2") {
		t.Fatalf("got %v, want an error naming batch 2", err)
	}
	// The daemon then resets it: a clean journal in the current format.
	if err := j.Reset(); err != nil {
		t.Fatal(err)
	}
	j.Append(ev("d", 4))
	if got := replay(t, j); len(got) != 1 || got[0].Channel.ID != "d" {
		t.Fatalf("after reset: %+v", got)
	}
}

// A journal from a newer callbridge is refused, not misread.
func TestNewerVersionIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	h := header
	h[7] = version + 1
	os.WriteFile(path, h[:], 0o600)
	j, _ := Open(path)
	defer j.Close()
	if _, err := j.Replay(func(bridge.Event) {}); err == nil || !strings.Contains(err.Error(), "version 3") {
		t.Fatalf("got %v", err)
	}
}

// Appends are one batch until Flush: nothing reaches the file before it,
// and the whole batch after it.
func TestAppendWritesOnFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, _ := Open(path)
	defer j.Close()
	for i, id := range []string{"a", "b", "c"} {
		j.Append(ev(id, i))
	}
	if fi, _ := os.Stat(path); fi.Size() != int64(len(header)) || j.Len() != 3 {
		t.Fatalf("before Flush: %d bytes, %d events", fi.Size(), j.Len())
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	j2, _ := Open(path)
	defer j2.Close()
	if got := replay(t, j2); len(got) != 3 || got[2].Channel.ID != "c" {
		t.Fatalf("after Flush: %+v", got)
	}
	// A batch not flushed when the process ends is not in the journal at
	// all, never a part of it.
	j.Append(ev("d", 4))
	j.Append(ev("e", 5))
	j.Close()
	j3, _ := Open(path)
	defer j3.Close()
	if got := replay(t, j3); len(got) != 3 {
		t.Fatalf("an unflushed batch was written: %+v", got)
	}
}

// Appending to a journal that holds events before replaying it is refused:
// it would land after a torn record, or in another format.
func TestAppendBeforeReplayIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, _ := Open(path)
	j.Append(ev("a", 1))
	j.Flush()
	j.Close()
	j, _ = Open(path)
	defer j.Close()
	j.Append(ev("b", 2))
	if err := j.Flush(); err == nil {
		t.Fatal("appended before the replay")
	}
	j.Append(ev("c", 3)) // and a replay drops such a batch
	if got := replay(t, j); len(got) != 1 || got[0].Channel.ID != "a" {
		t.Fatalf("%+v", got)
	}
}

// The mark survives the process: a newer time replaces it, an older one
// does not, and a journal opened again reads it back.
func TestMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ari.jsonl")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if !j.Marked().IsZero() {
		t.Fatalf("a new journal is marked %v", j.Marked())
	}
	t1 := time.Date(2026, 11, 21, 16, 9, 34, 505899000, time.UTC)
	for _, at := range []time.Time{t1.Add(-time.Hour), t1, t1.Add(-time.Second), {}} {
		if err := j.Mark(at); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	j, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if !j.Marked().Equal(t1) {
		t.Fatalf("marked %v after reopening, want %v", j.Marked(), t1)
	}
	if err := os.WriteFile(path+".seen", []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	j2, _ := Open(path)
	defer j2.Close()
	if !j2.Marked().IsZero() {
		t.Fatalf("an unreadable mark reads %v", j2.Marked())
	}
}

// Compaction keeps what a kept event refers to: for every recording cut
// at several points, with several sets of channels open, compacting
// (twice, the second time with fewer open) and appending the rest gives
// the events the open channels' filter leaves, then the rest, exactly; a
// reopened journal replays the same.
func TestCompactKeepsWhatKeptEventsReferTo(t *testing.T) {
	names := slices.Sorted(maps.Keys(recordings(t)))
	recs := recordings(t)
	for _, name := range names {
		evs := recs[name]
		for _, cut := range []int{len(evs) / 3, len(evs) / 2, len(evs) - 1} {
			for seed := range uint32(4) {
				// open: about half the channels; fewer: about a quarter.
				open := func(id string) bool { return id != "" && hash(id, seed)%2 == 0 }
				fewer := func(id string) bool { return open(id) && hash(id, seed+7)%2 == 0 }
				path := filepath.Join(t.TempDir(), "j")
				j, _ := Open(path)
				for _, e := range evs[:cut] {
					j.Append(e)
				}
				j.Flush()
				if err := j.Compact(open); err != nil {
					t.Fatal(err)
				}
				if err := j.Compact(fewer); err != nil {
					t.Fatal(err)
				}
				for _, e := range evs[cut:] {
					j.Append(e)
				}
				j.Flush()
				var want []bridge.Event
				for _, e := range evs[:cut] {
					if e.Kind != bridge.Snapshot && (fewer(e.Channel.ID) || fewer(e.Peer.ID) || fewer(e.Second) || fewer(e.Target)) {
						want = append(want, jsonTrip(t, e))
					}
				}
				for _, e := range evs[cut:] {
					want = append(want, jsonTrip(t, e))
				}
				for pass := range 2 {
					if got := replay(t, j); !reflect.DeepEqual(got, want) {
						t.Fatalf("%s cut %d seed %d pass %d: %d events, want %d", name, cut, seed, pass, len(got), len(want))
					}
					j.Close()
					j, _ = Open(path)
				}
				j.Close()
			}
		}
	}
}

func hash(s string, seed uint32) uint32 {
	h := 2166136261 ^ seed
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h >> 7
}
