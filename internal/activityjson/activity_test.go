package activityjson

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/recorded"
)

// checkSame: Append gives json.Marshal's bytes for a, or fails where it
// fails, and keeps what dst held.
func checkSame(t *testing.T, a bridge.Activity) {
	t.Helper()
	want, wantErr := json.Marshal(a)
	prefix := []byte("x\n")
	got, err := Append(prefix, &a)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("Append error %v, json.Marshal error %v, for %+v", err, wantErr, a)
	}
	if err != nil {
		if !bytes.Equal(got, prefix) {
			t.Fatalf("Append failed and left %q", got)
		}
		return
	}
	if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want) {
		t.Fatalf("Append:\n%s\njson.Marshal:\n%s", got, want)
	}
}

// TestRecordings: every activity of every recording, both sources, both
// configurations.
func TestRecordings(t *testing.T) {
	acts, err := recorded.Activities("../../testdata/recordings")
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) < 200 {
		t.Fatalf("only %d activities from the recordings", len(acts))
	}
	for _, a := range acts {
		checkSame(t, a)
	}
}

// TestEdges covers what the recordings do not hold: every optional field
// set, escapes, float forms, zero and far times, and values JSON has no
// form for.
func TestEdges(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 16, 20, 1, 7_000_000, time.UTC)
	full := bridge.Activity{ID: "e-1", CallID: "1.2", User: "101", UserName: "Alice", LocalNumber: "101",
		Direction: bridge.Inbound, State: bridge.Connected, Reason: bridge.ReasonAnswered,
		RemoteNumber: "0401234567", RemoteE164: "+358401234567", RemoteName: "O'Brien <ceo>", DDI: "0201234567",
		StartedAt: t0, AnsweredAt: t0.Add(5 * time.Second), EndedAt: t0.Add(time.Minute), RingSeconds: 5, TalkSeconds: 55,
		TransferredBy: "102", ForwardedBy: "103", Privacy: bridge.PrivacyWork, Source: "ari"}
	cases := []func(a *bridge.Activity){
		func(*bridge.Activity) {},
		func(a *bridge.Activity) { *a = bridge.Activity{} },
		func(a *bridge.Activity) { a.AnsweredAt = time.Time{} },
		func(a *bridge.Activity) { a.Internal = true },
		func(a *bridge.Activity) { a.StartedAt = time.Date(-3, 1, 1, 0, 0, 0, 0, time.UTC) },
		func(a *bridge.Activity) {
			a.EndedAt = time.Date(12345, 1, 1, 0, 0, 0, 999_999_999, time.FixedZone("x", -3*3600))
		},
		func(a *bridge.Activity) {
			a.AnsweredAt = time.Date(2026, 3, 29, 3, 0, 0, 1, time.FixedZone("EEST", 3*3600))
		},
		func(a *bridge.Activity) { a.RingSeconds, a.TalkSeconds = 1e21, 1e-7 },
		func(a *bridge.Activity) { a.RingSeconds, a.TalkSeconds = 999999999999999999999, 0.000001 },
		func(a *bridge.Activity) { a.RingSeconds, a.TalkSeconds = math.Copysign(0, -1), -1.5e-300 },
		func(a *bridge.Activity) { a.RingSeconds, a.TalkSeconds = math.MaxFloat64, math.SmallestNonzeroFloat64 },
		func(a *bridge.Activity) { a.RingSeconds = 123456789.123456789 },
		func(a *bridge.Activity) { a.RingSeconds = math.NaN() },
		func(a *bridge.Activity) { a.TalkSeconds = math.Inf(-1) },
		func(a *bridge.Activity) { a.User = "\x00\x01\x1f\x7f\b\f\n\r\t\"\\/" },
		func(a *bridge.Activity) { a.RemoteName = "\u2028\u2029\u2027\u202a<script>&amp;" },
		func(a *bridge.Activity) { a.RemoteName = "\xff\xfe\xc3\xe2\x82ok\xed\xa0\x80\xf4\x90\x80\x80é€😀" },
		func(a *bridge.Activity) { a.DDI, a.UserName, a.Privacy, a.Source = "", "", "", "" },
	}
	for _, change := range cases {
		a := full
		change(&a)
		checkSame(t, a)
	}
}

// FuzzAppend: whatever an activity holds, Append writes json.Marshal's
// bytes, or fails where it fails.
func FuzzAppend(f *testing.F) {
	acts, err := recorded.Activities("../../testdata/recordings")
	if err != nil {
		f.Fatal(err)
	}
	for _, a := range acts {
		f.Add(a.ID, a.User, a.UserName, a.RemoteNumber, a.RemoteName, a.DDI, a.TransferredBy, a.Privacy, string(a.Reason),
			a.RingSeconds, a.TalkSeconds, a.StartedAt.Unix(), a.AnsweredAt.Unix(), a.EndedAt.Unix(), int64(a.EndedAt.Nanosecond()), a.Internal)
	}
	zero := time.Time{}.Unix()
	f.Add("", "", "", "", "", "", "", "", "", 0.0, 0.0, zero, zero, zero, int64(0), false)
	f.Add("\xff", "\x00\x1f", "<>&", "\u2028\u2029", "\"\\", "\xed\xa0\x80", "\t\n\r\b\f", "é€😀", "\x7f",
		1e21, 1e-7, int64(-62135596801), int64(253402300800), int64(1<<40), int64(-1), true)
	f.Add("a", "b", "c", "d", "e", "f", "g", "h", "i", math.NaN(), math.Inf(1), int64(0), int64(0), int64(0), int64(0), false)
	f.Add("a", "b", "c", "d", "e", "f", "g", "h", "i", -0.0, -5e-324, int64(1), int64(2), int64(3), int64(1e9), false)
	f.Fuzz(func(t *testing.T, id, user, userName, remote, remoteName, ddi, by, privacy, name string,
		ring, talk float64, started, answered, ended, nsec int64, internal bool) {
		at := func(sec int64) time.Time {
			if sec == zero {
				return time.Time{}
			}
			return time.Unix(sec, nsec)
		}
		checkSame(t, bridge.Activity{ID: id, CallID: id + user, User: user, UserName: userName, LocalNumber: remote + user,
			Direction: bridge.Direction(ddi), Internal: internal, State: bridge.Outcome(by), Reason: bridge.Reason(name),
			RemoteNumber: remote, RemoteE164: remoteName + ddi, RemoteName: remoteName, DDI: ddi,
			StartedAt: at(started), AnsweredAt: at(answered), EndedAt: at(ended), RingSeconds: ring, TalkSeconds: talk,
			TransferredBy: by, ForwardedBy: privacy + name, Privacy: privacy, Source: name})
	})
}

// BenchmarkAppend compares Append with json.Marshal on the recordings'
// activities.
func BenchmarkAppend(b *testing.B) {
	acts, err := recorded.Activities("../../testdata/recordings")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := json.Marshal(acts[i%len(acts)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for i := 0; b.Loop(); i++ {
			var err error
			if buf, err = Append(buf[:0], &acts[i%len(acts)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
