package ari

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// FuzzParseSnapshot feeds arbitrary REST answers to the reconciliation
// parser: it may refuse them, never panic. Seeds are the channels and
// bridges of the recorded events, listed as Asterisk lists them.
func FuzzParseSnapshot(f *testing.F) {
	for _, name := range recordingNames(f) {
		rec, err := os.ReadFile(recordingPath(name))
		if err != nil {
			f.Fatal(err)
		}
		var chans, bridges []json.RawMessage
		for _, line := range splitLines(rec) {
			var v struct {
				Channel json.RawMessage `json:"channel"`
				Bridge  json.RawMessage `json:"bridge"`
			}
			if json.Unmarshal(line, &v) != nil {
				continue
			}
			if v.Channel != nil && len(chans) < 4 {
				chans = append(chans, v.Channel)
			}
			if v.Bridge != nil && len(bridges) < 2 {
				bridges = append(bridges, v.Bridge)
			}
		}
		c, _ := json.Marshal(chans)
		b, _ := json.Marshal(bridges)
		f.Add(c, b)
	}
	f.Add([]byte(`[null,{}]`), []byte(`[null,{"channels":null}]`))
	f.Fuzz(func(t *testing.T, chans, bridges []byte) {
		ev, err := parseSnapshot(chans, bridges, time.Time{})
		if err != nil {
			return
		}
		for _, c := range ev.Channels {
			if c.ID == "" {
				t.Fatalf("snapshot channel without id: %+v", c)
			}
			if c.Bridge == "" && (!c.Bridged.IsZero() || c.Conference) {
				t.Fatalf("bridge details for a channel in no bridge: %+v", c)
			}
		}
	})
}

// FuzzParsePing: any answer to GET /asterisk/ping is read or refused,
// never a panic, and a time is only ever read from a timestamp.
func FuzzParsePing(f *testing.F) {
	f.Add([]byte(`{"asterisk_id":"02:fc:00:00:00:01","ping":"pong","timestamp":"2026-11-21T16:09:34.505+0000"}`))
	f.Add([]byte(`{"ping":"pong"}`))
	f.Add([]byte(`{"timestamp":"soon"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if ts, err := parsePing(body); err == nil && ts.IsZero() && !strings.Contains(string(body), "timestamp") {
			t.Fatalf("time %v read from %q", ts, body)
		}
	})
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		out = append(out, b[:i])
		if i < len(b) {
			i++
		}
		b = b[i:]
	}
	return out
}

// BenchmarkSourceHandle measures the per-message work of the live source
// (decode, map, count) over a real recording.
func BenchmarkSourceHandle(b *testing.B) {
	rec, err := os.ReadFile(recordingPath("attended_transfer"))
	if err != nil {
		b.Fatal(err)
	}
	lines := splitLines(rec)
	src, err := NewSource(Config{Username: "u", Password: "p"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			src.handle(l, func(bridge.Event) {})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lines)), "ns/event")
}
