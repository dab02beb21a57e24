package journal

import (
	"os"
	"path/filepath"
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
	j.Close()

	j, _ = Open(path)
	got := replay(t, j)
	if len(got) != 4 || got[1].Channel.ID != "b" || !got[2].Time.Equal(time.Unix(2, 0)) || j.Len() != 4 {
		t.Fatalf("%+v", got)
	}
	// Keep what mentions a or c; trim the snapshot likewise.
	err = j.Compact(func(e *bridge.Event) bool {
		if e.Kind == bridge.Snapshot {
			e.Channels = e.Channels[:2]
			return true
		}
		return e.Channel.ID != "b"
	})
	if err != nil {
		t.Fatal(err)
	}
	j.Append(ev("d", 9))
	got = replay(t, j)
	if len(got) != 4 || got[0].Channel.ID != "a" || got[1].Channel.ID != "c" || len(got[2].Channels) != 2 || got[3].Channel.ID != "d" {
		t.Fatalf("after compact: %+v", got)
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

// A process killed mid-write leaves a torn line: replay keeps what is
// whole, cuts the rest, and appends continue on a clean line.
func TestTornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, _ := Open(path)
	j.Append(ev("a", 1))
	j.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"Kind":1,"Time":"2026-`)
	f.Close()

	j, _ = Open(path)
	if got := replay(t, j); len(got) != 1 {
		t.Fatalf("%+v", got)
	}
	j.Append(ev("b", 2))
	if got := replay(t, j); len(got) != 2 || got[1].Channel.ID != "b" {
		t.Fatalf("%+v", got)
	}
	j.Close()
}

// A damaged line in the middle is an error that says where, not a silent
// loss of the calls after it.
func TestCorruptLineIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	os.WriteFile(path, []byte("{\"Kind\":1}\nnot json\n{\"Kind\":1}\n"), 0o600)
	j, _ := Open(path)
	defer j.Close()
	if _, err := j.Replay(func(bridge.Event) {}); err == nil {
		t.Fatal("want an error")
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
