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
	memo = map[string][]bridge.Activity{}
)

// Activities replays every <scenario>/ari.jsonl and ami.txt under dir
// (testdata/recordings, as seen from the test's package) through the
// engine, once per dir and process.
func Activities(dir string) ([]bridge.Activity, error) {
	mu.Lock()
	defer mu.Unlock()
	if acts, ok := memo[dir]; ok {
		return acts, nil
	}
	names, err := filepath.Glob(filepath.Join(dir, "*", "ari.jsonl"))
	if err != nil || len(names) == 0 {
		return nil, errors.New("no recordings under " + dir)
	}
	plain := bridge.Config{Trunks: []string{"pstn"}}
	var out []bridge.Activity
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
				acts, err := replay(filepath.Join(scenario, src.file), cfg, src.read)
				if err != nil {
					return nil, err
				}
				out = append(out, acts...)
			}
		}
	}
	memo[dir] = out
	return out, nil
}

func replay(path string, cfg bridge.Config, read func(io.Reader, func(bridge.Event)) error) ([]bridge.Activity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	e := bridge.New(cfg)
	var acts []bridge.Activity
	var last time.Time
	collect := func(ts []bridge.Transition) {
		for _, tr := range ts {
			if tr.Activity != nil {
				acts = append(acts, *tr.Activity)
			}
		}
	}
	if err := read(f, func(ev bridge.Event) { last = ev.Time; collect(e.Apply(ev)) }); err != nil {
		return nil, err
	}
	collect(e.Flush(last))
	return acts, nil
}
