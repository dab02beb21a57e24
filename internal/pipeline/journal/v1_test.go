package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// The encoder of version 1, as callbridge wrote it before version 2: the
// tests write version 1 journals with it to show they still replay.

// appendRecordV1 appends ev's frame to b.
func appendRecordV1(b []byte, ev *bridge.Event) []byte {
	start := len(b)
	b = append(b, make([]byte, frameLen)...)
	b = append(b, byte(ev.Kind))
	b = appendTimeV1(b, ev.Time)
	b = appendChannelV1(b, &ev.Channel)
	b = appendChannelV1(b, &ev.Peer)
	b = appendString(b, ev.DialStatus)
	b = appendString(b, ev.DialString)
	b = appendString(b, ev.Forward)
	b = appendString(b, ev.Bridge)
	b = appendBool(b, ev.Conference)
	b = appendString(b, ev.Second)
	b = appendString(b, ev.Target)
	b = appendString(b, ev.Exten)
	b = appendString(b, ev.Context)
	b = appendString(b, ev.Var)
	b = appendString(b, ev.Value)
	b = binary.AppendVarint(b, int64(ev.Cause))
	b = appendTimeV1(b, ev.Listed)
	b = binary.AppendUvarint(b, uint64(len(ev.Channels)))
	for i := range ev.Channels {
		// Each channel length-prefixed, so compaction can splice them.
		at := len(b)
		b = append(b, 0, 0, 0, 0)
		b = appendChannelV1(b, &ev.Channels[i])
		binary.LittleEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	}
	seal(b[start:])
	return b
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendTimeV1(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, timeZero)
	}
	_, off := t.Zone()
	if off == 0 {
		b = append(b, timeUTC)
	} else {
		b = append(b, timeOffset)
		b = binary.AppendVarint(b, int64(off))
	}
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendChannelV1(b []byte, c *bridge.Channel) []byte {
	if *c == (bridge.Channel{}) {
		return append(b, 0) // most events have no peer
	}
	b = append(b, 1)
	b = appendString(b, c.ID)
	b = appendString(b, c.Name)
	b = appendString(b, c.Endpoint)
	b = appendString(b, c.LinkedID)
	b = append(b, byte(c.State))
	b = appendString(b, c.CallerNumber)
	b = appendString(b, c.CallerName)
	b = appendString(b, c.ConnectedNumber)
	b = appendString(b, c.ConnectedName)
	b = appendString(b, c.Exten)
	b = appendString(b, c.Context)
	b = appendString(b, c.App)
	b = appendTimeV1(b, c.Created)
	b = appendString(b, c.Bridge)
	b = appendTimeV1(b, c.Bridged)
	return appendBool(b, c.Conference)
}

// A journal in version 1 as callbridge's journal of the time wrote it
// (testdata/v1.journal: the events of inbound_answered, a snapshot and a
// zoned time, after a compaction that spliced the snapshot; v1.want.jsonl
// is what that callbridge replayed from it) replays the same events, a
// torn last record dropped; it is then in version 2, which replays the
// same, takes appends, and compacts.
func TestV1JournalReplays(t *testing.T) {
	old, err := os.ReadFile("testdata/v1.journal")
	if err != nil {
		t.Fatal(err)
	}
	var want []bridge.Event
	wb, _ := os.ReadFile("testdata/v1.want.jsonl")
	for line := range bytes.Lines(wb) {
		var ev bridge.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		want = append(want, ev)
	}
	if len(want) < 20 || !bytes.HasPrefix(old, headerV1[:]) {
		t.Fatalf("fixture: %d events, header %q", len(want), old[:8])
	}
	for _, torn := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "ari.jsonl")
		data := old
		if torn {
			data = append(slices.Clone(old), 7, 0, 0, 0, 1, 2) // a record's first bytes
		}
		os.WriteFile(path, data, 0o600)
		j, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := replay(t, j); !reflect.DeepEqual(got, want) || j.Len() != len(want) {
			t.Fatalf("torn %v: %d events, want %d as version 1 gave them", torn, len(got), len(want))
		}
		if b, _ := os.ReadFile(path); !bytes.HasPrefix(b, header[:]) || len(b) >= len(old) {
			t.Fatalf("not rewritten in version 2: %d bytes, header %q", len(b), b[:8])
		}
		extra := ev("x", 99)
		j.Append(extra)
		j.Flush()
		j.Close()
		j, _ = Open(path)
		if got := replay(t, j); !reflect.DeepEqual(got, append(slices.Clone(want), extra)) {
			t.Fatalf("version 2: %d events", len(got))
		}
		if err := j.Compact(func(id string) bool { return id == "x" }); err != nil || j.Len() != 1 {
			t.Fatalf("compact: %v, %d left", err, j.Len())
		}
		j.Close()
	}
}
