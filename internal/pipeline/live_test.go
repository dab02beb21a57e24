package pipeline

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/cards"
	"github.com/callbridge/callbridge/internal/phone"
)

// Every caller card a recording opens ends with it, whichever source
// reports it: a user who dials a code that takes over another call (a
// pickup, *8 in call_pickup; a parked call retrieved, 701 in
// call_park_retrieve) sees the code's call end and the call taken over
// go on, not a card ringing until the stale-card prune; and the live side
// is told the transitions that carry a finished activity too, which end a
// card as well.
func TestEveryCardEndsWithItsCall(t *testing.T) {
	names, err := filepath.Glob("../../testdata/recordings/*/ari.jsonl")
	if err != nil || len(names) < 28 {
		t.Fatalf("recordings: %v, %v", names, err)
	}
	users := 0
	for _, name := range names {
		dir := filepath.Dir(name)
		for _, src := range []struct {
			file string
			read func(io.Reader, func(bridge.Event)) error
		}{
			{"ari.jsonl", func(r io.Reader, fn func(bridge.Event)) error { _, err := ari.ReadRecording(r, fn); return err }},
			{"ami.txt", func(r io.Reader, fn func(bridge.Event)) error { _, err := ami.ReadRecording(r, fn); return err }},
		} {
			t.Run(filepath.Base(dir)+"/"+src.file, func(t *testing.T) {
				f, err := os.Open(filepath.Join(dir, src.file))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				desk := cards.New(cards.Options{Clock: cards.NewManualClock(time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC))})
				p := NewEngine(cfg, phone.Normalizer{}, func(bridge.Activity) {}, desk.Transition)
				if err := src.read(f, p.Handle); err != nil {
					t.Fatal(err)
				}
				p.Flush()
				for _, pr := range desk.Presence() {
					users++
					if pr.Calls != 0 || pr.Phone != cards.Idle {
						t.Errorf("%s after the recording: phone %s, %d calls; want idle, none", pr.Extension, pr.Phone, pr.Calls)
					}
				}
			})
		}
	}
	if users == 0 {
		t.Error("no user had a card")
	}
}
