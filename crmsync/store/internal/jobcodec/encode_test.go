package jobcodec

import (
	"bytes"
	"math"
	"testing"
	"time"
)

// checkEncode fails t unless Encode writes r as encoding/json does.
func checkEncode(t *testing.T, r Record) {
	t.Helper()
	e := r.LastError
	if len(e) > MaxLastError {
		e = e[:MaxLastError]
	}
	want, werr := encodeJSON(r, e)
	got, err := Encode(r)
	if (err != nil) != (werr != nil) {
		t.Fatalf("Encode error %v, encoding/json's %v", err, werr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode wrote\n%s\nencoding/json\n%s", got, want)
	}
}

// Every record a store writes for an activity of a recording, in every
// shape, is byte for byte what encoding/json wrote.
func TestEncodeIsJSONMarshal(t *testing.T) {
	for _, r := range recordedRecords(t) {
		checkEncode(t, r)
	}
	a := sample()
	a.RingSeconds = math.NaN()
	if _, err := Encode(Record{Activity: a}); err == nil {
		t.Error("an activity with NaN seconds was encoded")
	}
}

// FuzzEncode checks Encode against encoding/json on records made of
// arbitrary text and numbers around the recordings' activities.
func FuzzEncode(f *testing.F) {
	rs := recordedRecords(f)
	f.Add(0, "", false, 0, "", int64(0), 0.0)
	f.Add(3, "101", true, 1<<30, hostile, int64(-1234567), 1e21)
	f.Add(7, "\xff<&>\u2028", false, -1, "\x00\x1f\"\\", int64(1763741474123), -0.0)
	f.Fuzz(func(t *testing.T, pick int, user string, open bool, attempt int, lastError string, enqueuedMs int64, talk float64) {
		r := rs[uint(pick)%uint(len(rs))]
		r.Activity.User, r.Activity.TalkSeconds = user, talk
		r.Open, r.Attempt, r.LastError = open, attempt, lastError
		r.EnqueuedAt = time.UnixMilli(enqueuedMs)
		checkEncode(t, r)
	})
}

// BenchmarkEncode compares Encode with encoding/json on the recordings'
// records.
func BenchmarkEncode(b *testing.B) {
	rs := recordedRecords(b)
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r := &rs[i%len(rs)]
			_, _ = encodeJSON(*r, r.LastError)
		}
	})
	b.Run("Encode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			_, _ = Encode(rs[i%len(rs)])
		}
	})
}
