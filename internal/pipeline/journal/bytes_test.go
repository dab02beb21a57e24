package journal

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/callbridge/callbridge/bridge"
)

var updateBytes = flag.Bool("update-bytes", false, "rewrite testdata/v2.sha256")

// The bytes version 2 writes are pinned: for every recording, the
// journal half-way through its events (written in batches of five), that
// journal compacted with about half its channels open, and the journal
// of all its events (testdata/v2.sha256, the SHA-256 of each). A change
// to what the journal keeps in memory must not change a byte of what it
// writes. (Appends after a compaction are left out: the handles the
// compaction gives up are given again in the order of a map's walk.)
func TestFileBytesArePinned(t *testing.T) {
	recs := recordings(t)
	var got strings.Builder
	for _, name := range slices.Sorted(maps.Keys(recs)) {
		evs := recs[name]
		path := filepath.Join(t.TempDir(), "j")
		j, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := func(stage string) {
			if err := j.Flush(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&got, "%s %s %x\n", name, stage, sha256.Sum256(b))
		}
		appendAll := func(evs []bridge.Event) {
			for i, e := range evs {
				if err := j.Append(e); err != nil {
					t.Fatal(err)
				}
				if i%5 == 4 {
					j.Flush()
				}
			}
		}
		appendAll(evs[:len(evs)/2])
		sum("half")
		if err := j.Compact(func(id string) bool { return id != "" && hash(id, 3)%2 == 0 }); err != nil {
			t.Fatal(err)
		}
		sum("compacted")
		if err := j.Reset(); err != nil {
			t.Fatal(err)
		}
		appendAll(evs)
		sum("all")
		j.Close()
	}
	if *updateBytes {
		os.WriteFile("testdata/v2.sha256", []byte(got.String()), 0o644)
	}
	want, err := os.ReadFile("testdata/v2.sha256")
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Fatalf("the journal's bytes changed:\n%s\nwant:\n%s", got.String(), want)
	}
}

// The same events make the same file, in every run: also what is
// appended after a compaction, which gives up the closed channels'
// handles for new ones to take.
func TestSameEventsSameFile(t *testing.T) {
	recs := recordings(t)
	for _, name := range slices.Sorted(maps.Keys(recs)) {
		evs := recs[name]
		var files [2][]byte
		for k := range files {
			path := filepath.Join(t.TempDir(), "j")
			j, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range evs {
				if err := j.Append(e); err != nil {
					t.Fatal(err)
				}
				if i == len(evs)/3 {
					if err := j.Flush(); err != nil {
						t.Fatal(err)
					}
					// Every handle is given up; the channels of the
					// events after take them again.
					if err := j.Compact(func(string) bool { return false }); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := j.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			if files[k], err = os.ReadFile(path); err != nil {
				t.Fatal(err)
			}
		}
		if len(files[0]) < 100 || !bytes.Equal(files[0], files[1]) {
			t.Errorf("%s: two journals of the same events differ after a compaction (%d and %d bytes)", name, len(files[0]), len(files[1]))
		}
	}
}
