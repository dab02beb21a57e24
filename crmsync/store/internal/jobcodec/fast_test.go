package jobcodec

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	recordedacts "github.com/callbridge/callbridge/internal/recorded"
)

// recorded is every activity the engine gives for every recording.
func recorded() ([]bridge.Activity, error) {
	return recordedacts.Activities("../../../../testdata/recordings")
}

// hostile is a last error with everything json.Marshal escapes or
// replaces: quotes, a backslash, HTML characters, control characters, line
// and paragraph separators, invalid UTF-8, and text beyond ASCII.
const hostile = "HTTP 500: \"Bad\\Gateway\" <b>&amp;</b>\n\t\r\b\f\x01\x1f \u2028\u2029 \xff\xfe Meikäläinen 電話 😀"

// shapes are the records a store writes for a, in the shapes Encode gives:
// fresh, pushed open, retried with a last error (short, hostile, beyond
// MaxLastError), and times before 1970 or zero.
func shapes(a bridge.Activity) []Record {
	at := time.UnixMilli(1763741474123).UTC()
	named := a
	named.UserName, named.RemoteName, named.TransferredBy, named.ForwardedBy = "Ädä \"<&>\"", "Acme\u2028Oy", "102", "103"
	named.RingSeconds, named.TalkSeconds = 0.000001, 1234567.891
	return []Record{
		{Activity: a, EnqueuedAt: at},
		{Activity: a, Open: true, EnqueuedAt: at},
		{Activity: a, Attempt: 3, LastError: "HTTP 503", EnqueuedAt: at},
		{Activity: a, Open: true, Attempt: 1 << 30, LastError: hostile, EnqueuedAt: at},
		{Activity: a, Attempt: 7, LastError: strings.Repeat("é<", MaxLastError), EnqueuedAt: at},
		{Activity: named, Attempt: 2, LastError: hostile},
		{Activity: a, EnqueuedAt: time.UnixMilli(-1234567).UTC()},
	}
}

func recordedRecords(t testing.TB) []Record {
	t.Helper()
	acts, err := recorded()
	if err != nil {
		t.Fatal(err)
	}
	// 28 recordings, two sources, two configurations: far more than this.
	if len(acts) < 200 {
		t.Fatalf("only %d activities from the recordings", len(acts))
	}
	var rs []Record
	for _, a := range acts {
		rs = append(rs, shapes(a)...)
	}
	return rs
}

// same reports how got differs from want, or "".
func same(got, want Record) string {
	for _, p := range [][2]time.Time{{got.Activity.StartedAt, want.Activity.StartedAt},
		{got.Activity.AnsweredAt, want.Activity.AnsweredAt}, {got.Activity.EndedAt, want.Activity.EndedAt},
		{got.EnqueuedAt, want.EnqueuedAt}} {
		if !p[0].Equal(p[1]) || p[0].Location() != p[1].Location() {
			return "times " + p[0].String() + " vs " + p[1].String()
		}
	}
	if !reflect.DeepEqual(got, want) {
		return "records differ"
	}
	return ""
}

// Every record Encode writes for an activity of a recording takes the fast
// path and reads exactly as encoding/json reads it.
func TestFastReadsWhatJSONReads(t *testing.T) {
	rs := recordedRecords(t)
	for i, r := range rs {
		b, err := Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := fast(b)
		if !ok {
			t.Fatalf("record %d left the fast path: %s", i, b)
		}
		want, err := decodeJSON(b)
		if err != nil {
			t.Fatalf("record %d: encoding/json: %v", i, err)
		}
		if d := same(got, want); d != "" {
			t.Fatalf("record %d: %s\n%s\n got %+v\nwant %+v", i, d, b, got, want)
		}
		if d, err := Decode(b); err != nil || same(d, want) != "" {
			t.Fatalf("record %d: Decode gives %+v, %v", i, d, err)
		}
	}
}

// A task record, and anything not of Encode's shape, goes to encoding/json
// and still decodes as before.
func TestFastLeavesOtherShapes(t *testing.T) {
	at := time.UnixMilli(1763741474000).UTC()
	task := Record{Activity: bridge.Activity{ID: "a1"}, EnqueuedAt: at, Task: &crmsync.Task{ID: "cb1",
		Callback: &crmsync.Callback{ID: "cb1", Number: "040 1234567", RequestedAt: at}}}
	b, err := Encode(task)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fast(b); ok {
		t.Fatalf("fast read a task: %s", b)
	}
	if got, err := Decode(b); err != nil || !reflect.DeepEqual(got, task) {
		t.Fatalf("task: %+v, %v", got, err)
	}
	for _, in := range others(t) {
		if _, ok := fast([]byte(in)); ok {
			t.Errorf("fast read %s", in)
		}
		compare(t, []byte(in))
	}
}

// others are near misses of Encode's shape, each of which fast must leave
// to encoding/json (some decode there, some do not).
func others(t testing.TB) []string {
	b, err := Encode(Record{Activity: sample(), Attempt: 2, LastError: "x", EnqueuedAt: time.UnixMilli(5)})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	var out []string
	for _, r := range [][2]string{
		{`{"v":1`, `{ "v":1`}, {`"id"`, `"ID"`}, {`"v":1`, `"v":2`}, {`"v":1`, `"v":1.0`},
		{`"n":2`, `"n":02`}, {`"n":2`, `"n":-2`}, {`"n":2`, `"n":2e0`}, {`"t":5`, `"t":-0`},
		{`"t":5`, `"t":99999999999999999999`}, {`"e":"x"`, `"e":"\ud83d\ude00"`}, {`"e":"x"`, `"e":"\x"`},
		{`"e":"x"`, "\"e\":\"\xff\""}, {`"e":"x"`, "\"e\":\"\x01\""}, {`"ring_seconds":2.005`, `"ring_seconds":2.005e0`},
		{`"ring_seconds":2.005`, `"ring_seconds":-2.005`}, {`"ring_seconds":2.005`, `"ring_seconds":1234567890123456`},
		{`"ring_seconds":2.005`, `"ring_seconds":02.005`}, {`"ring_seconds":2.005`, `"ring_seconds":2.`},
		{`.009Z"`, `.009+02:00"`}, {`.009Z"`, `.0091Z"`}, {`2026-11-21`, `2026-02-30`}, {`2026-11-21`, `2026-13-21`},
		{`T16:11`, `T24:11`}, {`"internal":false`, `"internal":0`}, {`"internal":false`, `"internal":false,"extra":1`},
		{`"t":5}`, `"t":5} `}, {`"t":5}`, `"t":5,"k":null}`}, {`"id":"`, `"id":"","x":"`},
	} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("%s has no %s", s, r[0])
		}
		out = append(out, strings.Replace(s, r[0], r[1], 1))
	}
	// A record without an id: encoding/json's error, not fast's.
	b, _ = Encode(Record{EnqueuedAt: time.UnixMilli(5)})
	return append(out, string(b), s[:len(s)-1])
}

// compare fails t unless Decode and encoding/json agree on in, and fast,
// when it reads in at all, reads what encoding/json reads.
func compare(t *testing.T, in []byte) {
	t.Helper()
	want, werr := decodeJSON(in)
	got, err := Decode(in)
	if (err == nil) != (werr == nil) {
		t.Fatalf("Decode(%q): error %v, encoding/json %v", in, err, werr)
	}
	if err == nil && same(got, want) != "" {
		t.Fatalf("Decode(%q) = %+v, encoding/json %+v", in, got, want)
	}
	if f, ok := fast(in); ok && (werr != nil || same(f, want) != "") {
		t.Fatalf("fast(%q) = %+v, encoding/json %+v, %v", in, f, want, werr)
	}
}

func BenchmarkDecode(b *testing.B) {
	acts, err := recorded()
	if err != nil {
		b.Fatal(err)
	}
	var recs [][]byte
	for _, a := range acts {
		r, err := Encode(Record{Activity: a, Attempt: 1, LastError: "HTTP 503", EnqueuedAt: time.UnixMilli(1763741474123)})
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, r)
	}
	for _, c := range []struct {
		name   string
		decode func([]byte) (Record, error)
	}{{"json", decodeJSON}, {"fast", Decode}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := c.decode(recs[i%len(recs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
