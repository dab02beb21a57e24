package journal

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/bridge"
)

// recordings are the events of every recording in testdata, by name.
func recordings(t testing.TB) map[string][]bridge.Event {
	t.Helper()
	paths, _ := filepath.Glob("../../../testdata/recordings/*/ari.jsonl")
	if len(paths) == 0 {
		t.Fatal("no recordings")
	}
	out := map[string][]bridge.Event{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		var evs []bridge.Event
		_, err = ari.ReadRecording(f, func(ev bridge.Event) { evs = append(evs, ev) })
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(filepath.Dir(p))] = evs
	}
	return out
}

// jsonTrip is what the JSON journal gave back for ev.
func jsonTrip(t testing.TB, ev bridge.Event) bridge.Event {
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var out bridge.Event
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// encodeAll encodes evs as a journal with a new codec writes them, in one
// batch: the batch's frame, with the notes compaction keeps of the
// records.
func encodeAll(evs []bridge.Event) ([]byte, []rec) {
	var c codec
	b := make([]byte, frameLen)
	var recs []rec
	for i := range evs {
		b, recs = c.encode(b, &evs[i], recs)
	}
	seal(b)
	return b, recs
}

// decodeAll decodes batches as a replay does, with a new codec: the events
// and the notes.
func decodeAll(b []byte) ([]bridge.Event, []rec, error) {
	var c codec
	var evs []bridge.Event
	var recs []rec
	for len(b) > 0 {
		batch, n, err := frameAt(b)
		if err != nil {
			return evs, recs, err
		}
		b = b[n:]
		for len(batch) > 0 {
			payload, rn, err := recordAt(batch)
			if err != nil {
				return evs, recs, err
			}
			batch = batch[rn:]
			var ev bridge.Event
			var r rec
			isEvent, err := c.decode(payload, &ev, &r)
			if err != nil {
				return evs, recs, err
			}
			recs = append(recs, r)
			if isEvent {
				evs = append(evs, ev)
			}
		}
	}
	c.decoded()
	return evs, recs, nil
}

func binTrip(t testing.TB, ev bridge.Event) bridge.Event {
	t.Helper()
	b, recs := encodeAll([]bridge.Event{ev})
	got, recs2, err := decodeAll(b)
	if err != nil || len(got) != 1 {
		t.Fatalf("decode %+v: %v", ev, err)
	}
	if !reflect.DeepEqual(recs, recs2) {
		t.Fatalf("notes differ: written %+v, replayed %+v", recs, recs2)
	}
	return got[0]
}

// Every event of every recording comes back from the binary journal as it
// came back from the JSON journal, so the engine replays the same calls;
// a replay notes of each record what the writer noted.
func TestRecordsGiveWhatJSONGave(t *testing.T) {
	var jsonBytes, v1Bytes, v2Bytes int
	for name, evs := range recordings(t) {
		b, recs := encodeAll(evs)
		got, recs2, err := decodeAll(b)
		if err != nil || len(got) != len(evs) {
			t.Fatalf("%s: %d of %d events: %v", name, len(got), len(evs), err)
		}
		for i, ev := range evs {
			if want := jsonTrip(t, ev); !reflect.DeepEqual(got[i], want) {
				t.Fatalf("%s event %d:\n got %+v\nwant %+v", name, i, got[i], want)
			}
			j, _ := json.Marshal(ev)
			jsonBytes += len(j) + 1
			v1Bytes += len(appendRecordV1(nil, &ev))
		}
		if !reflect.DeepEqual(recs, recs2) {
			t.Fatalf("%s: the replay's notes differ from the writer's", name)
		}
		v2Bytes += len(b)
	}
	t.Logf("journal bytes: JSON %d, version 1 %d (%.2f), version 2 %d (%.2f)", jsonBytes,
		v1Bytes, float64(v1Bytes)/float64(jsonBytes), v2Bytes, float64(v2Bytes)/float64(jsonBytes))
}

// Every field of an event, set to something other than its zero value,
// survives the record: a field added to bridge.Event and not to the
// record fails here rather than being lost across a restart.
func TestRecordCarriesEveryField(t *testing.T) {
	var ev bridge.Event
	n := 0
	fill(reflect.ValueOf(&ev).Elem(), &n)
	if ev.Kind != bridge.Snapshot {
		ev.Kind = bridge.Snapshot // the channel list is kept for snapshots only
	}
	if got := binTrip(t, ev); !reflect.DeepEqual(got, ev) {
		t.Fatalf("\n got %+v\nwant %+v", got, ev)
	}
	// And a time in a zone: the same instant and offset as JSON's.
	ev.Time = time.Date(2026, 11, 21, 16, 9, 34, 825e6, time.FixedZone("CET", 3600))
	got, want := binTrip(t, ev), jsonTrip(t, ev)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("zoned time: got %v, JSON gave %v", got.Time, want.Time)
	}
}

// fill sets every field under v to a distinct non-zero value.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)) + string(rune('a'+*n/26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint8:
		v.SetUint(uint64(*n))
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), n)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(1_790_000_000+int64(*n), int64(*n)*1000).UTC()))
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i), n)
		}
	default:
		panic("fill: no value for " + v.Type().String())
	}
}

// A state_dir from before the binary format holds a JSON journal: it
// replays as before (a torn last line dropped) and is rewritten in the
// binary format, which then replays the same events and takes appends.
func TestJSONJournalUpgrades(t *testing.T) {
	evs := recordings(t)["inbound_answered"]
	if len(evs) < 10 {
		t.Fatal("recording too short")
	}
	var old bytes.Buffer
	enc := json.NewEncoder(&old) // as the JSON journal wrote them
	for _, ev := range evs[:10] {
		enc.Encode(ev)
	}
	old.WriteString(`{"Kind":1,"Time":"2026-`)
	path := filepath.Join(t.TempDir(), "ari.jsonl")
	os.WriteFile(path, old.Bytes(), 0o600)

	want := make([]bridge.Event, 10)
	for i, ev := range evs[:10] {
		want[i] = jsonTrip(t, ev)
	}
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := replay(t, j); !reflect.DeepEqual(got, want) || j.Len() != 10 {
		t.Fatalf("JSON replay: %d events, want 10 as JSON gave them", len(got))
	}
	b, _ := os.ReadFile(path)
	if !bytes.HasPrefix(b, header[:]) {
		t.Fatalf("not rewritten in the binary format: %q", b[:min(20, len(b))])
	}
	j.Append(evs[10])
	j.Flush()
	j.Close()

	j, _ = Open(path)
	defer j.Close()
	got := replay(t, j)
	if len(got) != 11 || !reflect.DeepEqual(got[:10], want) || !reflect.DeepEqual(got[10], binTrip(t, evs[10])) {
		t.Fatalf("after the upgrade: %d events", len(got))
	}
	// Compaction works on the upgraded journal's records.
	if err := j.Compact(func(string) bool { return false }); err != nil || j.Len() != 0 {
		t.Fatalf("compact: %v, %d left", err, j.Len())
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Error("the upgrade left its temporary file")
	}
}

// FuzzDecode: whatever a journal file holds, decoding its records never
// panics, and what decodes encodes to records that decode the same, with
// the same notes. Seeded with the records of real calls, a few events of
// each recording from its start (so that the events refer to the
// descriptions before them).
func FuzzDecode(f *testing.F) {
	for _, evs := range recordings(f) {
		for _, n := range []int{1, 3, 8} {
			b, _ := encodeAll(evs[:min(n, len(evs))])
			f.Add(b)
		}
		for _, ev := range evs {
			if ev.Kind == bridge.Snapshot {
				b, _ := encodeAll([]bridge.Event{ev})
				f.Add(b)
				break
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, _, err := decodeAll(b)
		if err != nil {
			return
		}
		again, recs := encodeAll(evs)
		evs2, recs2, err := decodeAll(again)
		if err != nil {
			t.Fatalf("re-encoded records do not decode: %v", err)
		}
		if !reflect.DeepEqual(evs, evs2) {
			t.Fatalf("\n got %+v\nwant %+v", evs2, evs)
		}
		if !reflect.DeepEqual(recs, recs2) {
			t.Fatalf("what compaction notes differs: %+v, %+v", recs, recs2)
		}
	})
}

// FuzzDecodeV1: a version 1 record never panics its decoder, and what
// decodes encodes (in version 1) to a record that decodes the same.
// Seeded with the records of real events.
func FuzzDecodeV1(f *testing.F) {
	for _, evs := range recordings(f) {
		for i, ev := range evs {
			if i%7 == 0 || ev.Kind == bridge.Snapshot {
				f.Add(appendRecordV1(nil, &ev))
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		payload, _, err := frameAt(b)
		if err != nil {
			payload = b // also try it as a payload with no frame
		}
		var ev bridge.Event
		if decodeV1(payload, &ev) != nil {
			return
		}
		p2, _, err := frameAt(appendRecordV1(nil, &ev))
		if err != nil {
			t.Fatal(err)
		}
		var ev2 bridge.Event
		if err := decodeV1(p2, &ev2); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(ev, ev2) {
			t.Fatalf("\n got %+v\nwant %+v", ev2, ev)
		}
	})
}

// What the journal keeps in memory per record stays small: one per
// journaled event of every open call.
func TestRecIsSmall(t *testing.T) {
	if n := unsafe.Sizeof(notes{}.slots[0]); n > 4 {
		t.Fatalf("a record's note is %d bytes, want at most 4", n)
	}
	// The pairs the records share: the journal makes one per channel and
	// one per note; these stay in their size classes.
	if d, m := unsafe.Sizeof(described{}), unsafe.Sizeof(recMore{}); unsafe.Sizeof(uintptr(0)) == 8 && (d > 64 || m > 48) {
		t.Fatalf("described is %d bytes, recMore %d: want at most 64 and 48", d, m)
	}
}

// diff's length is what appendDelta writes, and its fields are the ones
// that differ, for the channels of every recording, from the empty
// channel and from the channel's previous state as a description keeps it
// in memory (canon.go's form, its words shared by all).
func TestDiffLength(t *testing.T) {
	n := 0
	var c codec
	for _, evs := range recordings(t) {
		prev := map[string]bridge.Channel{}
		for _, ev := range evs {
			for _, ch := range append([]bridge.Channel{ev.Channel, ev.Peer}, ev.Channels...) {
				old, seen := prev[ch.ID]
				for _, base := range []string{"", c.canonical(&old)} {
					m, size := diff(base, &c.words, &ch)
					if got := len(appendDelta(nil, m, &ch, nil)); got != size {
						t.Fatalf("%+v from %q: diff says %d bytes, appendDelta wrote %d", ch, base, size, got)
					}
					var from bridge.Channel
					if base != "" {
						from = old
						from.ID = "" // a description in memory has no id
					}
					if want := differing(&from, &ch); m != want {
						t.Fatalf("%+v from %+v (%q): diff gives fields %b, want %b", ch, from, base, m, want)
					}
					n++
				}
				if seen {
					n++
				}
				prev[ch.ID] = ch
			}
		}
	}
	if len(c.words.list) == 0 {
		t.Fatal("no words taken")
	}
	if n < 1000 {
		t.Fatalf("%d channels compared", n)
	}
}

// differing is the fields of b that are not a's, compared one by one
// (times by what the file gives of them).
func differing(a, b *bridge.Channel) uint64 {
	var m uint64
	set := func(bit uint64, differ bool) {
		if differ {
			m |= bit
		}
	}
	times := func(x, y time.Time) bool {
		return x.IsZero() != y.IsZero() || string(appendTime(nil, x)) != string(appendTime(nil, y))
	}
	set(chID, a.ID != b.ID)
	set(chName, a.Name != b.Name)
	set(chEndpoint, a.Endpoint != b.Endpoint)
	set(chLinkedID, a.LinkedID != b.LinkedID)
	set(chState, a.State != b.State)
	set(chCallerNumber, a.CallerNumber != b.CallerNumber)
	set(chCallerName, a.CallerName != b.CallerName)
	set(chConnectedNumber, a.ConnectedNumber != b.ConnectedNumber)
	set(chConnectedName, a.ConnectedName != b.ConnectedName)
	set(chExten, a.Exten != b.Exten)
	set(chContext, a.Context != b.Context)
	set(chApp, a.App != b.App)
	set(chCreated, times(a.Created, b.Created))
	set(chBridge, a.Bridge != b.Bridge)
	set(chBridged, times(a.Bridged, b.Bridged))
	set(chConference, a.Conference != b.Conference)
	return m
}
