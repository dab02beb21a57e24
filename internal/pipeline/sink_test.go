package pipeline

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

func TestFileAppendsLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "activities.jsonl")
	t0 := time.Date(2026, 11, 21, 16, 9, 34, 825e6, time.UTC)
	for round := 0; round < 2; round++ { // reopening appends
		s, err := OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(bridge.Activity{ID: "x", User: "101", StartedAt: t0, EndedAt: t0.Add(time.Second)}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
		var a bridge.Activity
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil || a.User != "101" || !a.StartedAt.Equal(t0) {
			t.Fatalf("line %d: %v %+v", n, err, a)
		}
	}
	if n != 2 {
		t.Fatalf("%d lines, want 2", n)
	}
}

// After logrotate renames the file, Reopen writes to a new one at the
// path; what was written before stays in the renamed one.
func TestFileReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "activities.jsonl")
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Write(bridge.Activity{ID: "before"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := f.Write(bridge.Activity{ID: "still-old"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Reopen(path); err != nil {
		t.Fatal(err)
	}
	if err := f.Write(bridge.Activity{ID: "after"}); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if !strings.Contains(string(old), `"before"`) || !strings.Contains(string(old), `"still-old"`) || strings.Contains(string(old), `"after"`) {
		t.Errorf("rotated file: %s", old)
	}
	if !strings.Contains(string(cur), `"after"`) || strings.Count(string(cur), "\n") != 1 {
		t.Errorf("new file: %s", cur)
	}
	// A path that cannot be opened keeps the file being written.
	if err := f.Reopen(filepath.Join(dir, "activities.jsonl", "x")); err == nil {
		t.Error("reopened under a file")
	}
	if err := f.Write(bridge.Activity{ID: "kept"}); err != nil || f.Path() != path {
		t.Errorf("after a failed reopen: %v, %s", err, f.Path())
	}
}
