package pipeline

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
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
