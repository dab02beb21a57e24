package recorded

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/bridge"
)

// lab is the lab's user directory (testdata/lab's README).
var lab = bridge.Config{Trunks: []string{"pstn", "pstn2"}, Users: []bridge.User{
	{Extension: "101", Name: "Alice", Mobiles: []string{"0409999999"}},
	{Extension: "102", Name: "Bob"},
	{Extension: "103", Name: "Carol"},
}}

var (
	mu   sync.Mutex
	memo = map[string]replayed{}
)

// replayed is what the replays of one dir gave.
type replayed struct {
	acts []bridge.Activity
	live []bridge.Transition
}

// Activities replays every <scenario>/ari.jsonl and ami.txt under dir
// (testdata/recordings, as seen from the test's package) through the
// engine, once per dir and process.
func Activities(dir string) ([]bridge.Activity, error) {
	r, err := replayAll(dir)
	return r.acts, err
}

// Transitions are the live transitions (those without an activity, what
// the pipeline hands to the caller cards and /api/live) of the same
// replays, in the order the engine gave them, one replay after another.
// Every call of a replay ends within it.
func Transitions(dir string) ([]bridge.Transition, error) {
	r, err := replayAll(dir)
	return r.live, err
}

func replayAll(dir string) (replayed, error) {
	mu.Lock()
	defer mu.Unlock()
	if r, ok := memo[dir]; ok {
		return r, nil
	}
	names, err := filepath.Glob(filepath.Join(dir, "*", "ari.jsonl"))
	if err != nil || len(names) == 0 {
		return replayed{}, errors.New("no recordings under " + dir)
	}
	plain := bridge.Config{Trunks: []string{"pstn"}}
	var out replayed
	for _, p := range names {
		scenario := filepath.Dir(p)
		for _, src := range []struct {
			name, file string
			read       func(io.Reader, func(bridge.Event)) error
		}{
			{"ari", "ari.jsonl", func(r io.Reader, fn func(bridge.Event)) error { _, err := ari.ReadRecording(r, fn); return err }},
			{"ami", "ami.txt", func(r io.Reader, fn func(bridge.Event)) error { _, err := ami.ReadRecording(r, fn); return err }},
		} {
			for _, cfg := range []bridge.Config{plain, lab} {
				cfg.Source = src.name
				if err := replay(&out, filepath.Join(scenario, src.file), cfg, src.read); err != nil {
					return replayed{}, err
				}
			}
		}
	}
	memo[dir] = out
	return out, nil
}

func replay(out *replayed, path string, cfg bridge.Config, read func(io.Reader, func(bridge.Event)) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	e := bridge.New(cfg)
	var last time.Time
	collect := func(ts []bridge.Transition) {
		for _, tr := range ts {
			if tr.Activity != nil {
				out.acts = append(out.acts, *tr.Activity)
			} else {
				out.live = append(out.live, tr)
			}
		}
	}
	if err := read(f, func(ev bridge.Event) { last = ev.Time; collect(e.Apply(ev)) }); err != nil {
		return err
	}
	collect(e.Flush(last))
	return nil
}
