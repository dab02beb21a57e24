package app_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/cel"
	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/app/demo"
)

// lockedFile is the CEL CSV the fake Asterisk appends to.
func celFile(t *testing.T, dir string) *os.File {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "Master.csv"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// replayedByID gives the activities each recording makes from its events or
// its CEL rows, by id.
func replayedByID(t *testing.T, recs []fakeari.Recording) (fromARI, fromCEL map[string]bridge.Activity) {
	t.Helper()
	fromARI, fromCEL = map[string]bridge.Activity{}, map[string]bridge.Activity{}
	for _, rec := range recs {
		for src, into := range map[string]map[string]bridge.Activity{"ari": fromARI, "cel": fromCEL} {
			e := bridge.New(bridge.Config{Source: src, Trunks: []string{"pstn"}})
			keep := func(ev bridge.Event) {
				for _, tr := range e.Apply(ev) {
					if tr.Activity != nil {
						into[tr.Activity.ID] = *tr.Activity
					}
				}
			}
			if src == "ari" {
				for _, l := range rec.Messages() {
					if ev, ok, err := ari.Decode(l); err == nil && ok {
						keep(ev)
					}
				}
				continue
			}
			l, err := cel.NewLayout(cel.LabFields, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			r, w, _ := os.Pipe()
			go func() {
				for _, row := range rec.CELRows() {
					w.Write(row)
				}
				w.Close()
			}()
			if _, err := l.Replay(r, keep); err != nil {
				t.Fatal(err)
			}
			r.Close()
		}
	}
	return fromARI, fromCEL
}

// jsonOf is an activity as the sink and the CRMs get it.
func jsonOf(t *testing.T, a bridge.Activity) string {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// With cel: configured, calls that begin and end while the daemon is
// disconnected from Asterisk are delivered from CEL, field by field as
// CEL gives them; the calls before and after the gap as ARI gave them,
// each once. Without the section those calls are lost: ARI has no history.
func TestRunFillsGapsFromCEL(t *testing.T) {
	base, err := demo.Recordings()
	if err != nil {
		t.Fatal(err)
	}
	for i := range base {
		if base[i].CEL, err = fakeari.LoadCEL(filepath.Join("../../testdata/recordings", base[i].Name, "cel.csv")); err != nil {
			t.Fatal(err)
		}
	}
	recs := fakeari.Chain(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), 1500*time.Millisecond, base...)
	// The daemon is cut off from the first event of the fourth call to the
	// first of the seventh.
	at := 0
	var drop fakeari.Drop
	for i, r := range recs {
		if i == 3 {
			drop.At = at
		}
		if i == 6 {
			drop.Resume = at
		}
		at += len(r.Lines)
	}
	fromARI, fromCEL := replayedByID(t, recs)
	gapCalls := map[string]bool{}
	for _, r := range recs[3:6] {
		for _, l := range r.Messages() {
			if ev, ok, err := ari.Decode(l); err == nil && ok && ev.Kind == bridge.ChannelCreated {
				gapCalls[ev.Channel.ID] = true
			}
		}
	}

	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("cel=%v", on), func(t *testing.T) {
			dir := t.TempDir()
			f := celFile(t, dir)
			srv, err := fakeari.New(fakeari.Options{Recordings: recs, AwaitList: true, Drops: []fakeari.Drop{drop}, CEL: f})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			section := ""
			if on {
				section = fmt.Sprintf("cel:\n  type: csv\n  file: %s\n  time_zone: UTC\n", f.Name())
			}
			sinkPath := filepath.Join(dir, "activities.jsonl")
			yaml := fmt.Sprintf("state_dir: %s\nari: {url: %s, username: asterisk, password: asterisk}\ntrunks: [pstn]\nsink: {file: %s}\nhttp: {listen: ''}\n%s",
				dir, srv.URL(), sinkPath, section)
			_, _, ctx, stop := runDaemon(t, dir, yaml, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
			if err := srv.Play(ctx); err != nil {
				t.Fatal(err)
			}
			want := len(fromARI)
			if !on {
				want = 0
				for _, a := range fromARI {
					if !gapCalls[a.CallID] {
						want++
					}
				}
			}
			var acts []bridge.Activity
			for deadline := time.Now().Add(20 * time.Second); len(acts) < want && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
				acts = readSink(t, sinkPath)
			}
			time.Sleep(300 * time.Millisecond) // anything more has a moment to show
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			acts = readSink(t, sinkPath)
			seen := map[string]bool{}
			for _, a := range acts {
				w, ok := fromARI[a.ID]
				if a.Source == "cel" {
					w, ok = fromCEL[a.ID]
				}
				if !ok || jsonOf(t, a) != jsonOf(t, w) {
					t.Errorf("%s activity of call %s user %s is not the recording's:\n got %+v\nwant %+v", a.Source, a.CallID, a.User, a, w)
				}
				if seen[a.ID] {
					t.Errorf("activity %s (call %s) written twice", a.ID, a.CallID)
				}
				seen[a.ID] = true
				if gapCalls[a.CallID] != (a.Source == "cel") {
					t.Errorf("call %s (in the gap: %v) from %s", a.CallID, gapCalls[a.CallID], a.Source)
				}
			}
			if len(seen) != want {
				t.Errorf("%d activities, want %d", len(seen), want)
			}
		})
	}
}
