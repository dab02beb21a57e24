package jobcodec

import (
	"reflect"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
)

// sample is the short_call recording's activity: +358401234567 calls DID
// +35850111222, 101 answers after ~2 s and talks ~2 s.
func sample() bridge.Activity {
	start := time.Date(2026, 11, 21, 16, 11, 10, 9_000_000, time.UTC)
	return bridge.Activity{
		ID: bridge.ActivityID("pbx", "1763741470.0", "101"), CallID: "1763741470.0",
		User: "101", UserName: "Alice", LocalNumber: "101", Direction: bridge.Inbound,
		State: bridge.Connected, Reason: bridge.ReasonAnswered,
		RemoteNumber: "+358401234567", RemoteE164: "+358401234567", DDI: "+35850111222",
		StartedAt: start, AnsweredAt: start.Add(2005 * time.Millisecond), EndedAt: start.Add(4018 * time.Millisecond),
		RingSeconds: 2.005, TalkSeconds: 2.013, Privacy: bridge.PrivacyWork, Source: "ari",
	}
}

func TestRoundTrip(t *testing.T) {
	r := Record{Activity: sample(), Attempt: 3, LastError: "HTTP 503", EnqueuedAt: time.UnixMilli(1763741474000).UTC()}
	b, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, in := range []string{``, `{}`, `{"v":2,"a":{"id":"x"}}`, `{"v":1,"a":{}}`, `{"v":1,"a":{"id":"x"},"n":-1}`, `{"v":1,"a":{"id":"x","started_at":"yesterday"}}`, `[]`} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%q) accepted", in)
		}
	}
}

// FuzzDecode checks Decode against encoding/json on arbitrary bytes, seeded
// with the records of a few recordings' activities and the near misses of
// their shape, and that what decodes re-encodes to the same record.
func FuzzDecode(f *testing.F) {
	b, _ := Encode(Record{Activity: sample(), EnqueuedAt: time.Unix(1763741474, 0)})
	f.Add(b)
	f.Add([]byte(`{"v":1,"a":{"id":"x","started_at":"2026-11-21T16:11:10.009Z"},"n":2,"e":"HTTP 500","t":0}`))
	for i, r := range recordedRecords(f) {
		if i%23 == 0 { // a spread of them: the fuzzer mutates, it needs no thousands
			b, _ := Encode(r)
			f.Add(b)
		}
	}
	for _, s := range others(f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		compare(t, in)
		r, err := Decode(in)
		if err != nil {
			return
		}
		// What decodes must encode and decode to the same thing.
		b, err := Encode(r)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		r2, err := Decode(b)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if r2.Activity.ID != r.Activity.ID || r2.Attempt != r.Attempt {
			t.Fatalf("unstable: %+v vs %+v", r, r2)
		}
	})
}

func TestTaskRoundTrip(t *testing.T) {
	at := time.UnixMilli(1763741474000).UTC()
	for _, r := range []Record{
		{Activity: sample(), Open: true, EnqueuedAt: at},
		{Activity: bridge.Activity{ID: "a1", CallID: "c1", User: "101"}, EnqueuedAt: at, Attempt: 2, Task: &crmsync.Task{
			ID: "wrapup:a1", After: "a1", GiveUpAt: at.Add(time.Hour),
			Update: &crmsync.UpdateRequest{ID: "wrapup:a1", ActivityID: "a1", CallID: "c1", User: "101",
				Wrapup: &crmsync.Wrapup{Code: "SALE", Notes: "n", At: at}, Complete: true}}},
		{EnqueuedAt: at, Task: &crmsync.Task{ID: "cb1", Callback: &crmsync.Callback{ID: "cb1", Number: "040 1234567",
			E164: "+358401234567", Queue: "support", CRMQueue: "Support", Subject: "Call back", RequestedAt: at,
			Ownership: crmsync.OwnerQueue, Duplicates: crmsync.DuplicatesIgnore}}},
	} {
		b, err := Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
		}
		if got.ID() != r.ID() || got.ID() == "" {
			t.Errorf("id %q, want %q", got.ID(), r.ID())
		}
	}
}

func TestDecodeRejectsBadTasks(t *testing.T) {
	for _, in := range []string{`{"v":1,"a":{},"k":{"id":""}}`, `{"v":1,"a":{},"k":{"id":"x"}}`,
		`{"v":1,"a":{},"k":{"id":"x","update":{},"callback":{}}}`} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%q) accepted", in)
		}
	}
}
