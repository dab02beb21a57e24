package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/recorded"
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

// A batch is written as one line per activity, after what was there.
func TestFileWriteBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "activities.jsonl")
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Write(bridge.Activity{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteBatch([]bridge.Activity{{ID: "b"}, {ID: "c"}, {ID: "d"}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], `"a"`) || !strings.Contains(lines[3], `"d"`) {
		t.Fatalf("%q", lines)
	}
}

// The file holds, line by line, the bytes json.Marshal gives for each
// activity of every recording; a batch with an activity JSON has no form
// for writes nothing, and the batches around it are written whole.
func TestFileBytesAreJSONMarshal(t *testing.T) {
	acts, err := recorded.Activities("../../testdata/recordings")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "activities.jsonl")
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []byte
	for i := 0; i < len(acts); i += 7 {
		batch := acts[i:min(i+7, len(acts))]
		if err := f.WriteBatch(batch); err != nil {
			t.Fatal(err)
		}
		for _, a := range batch {
			line, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			want = append(append(want, line...), '\n')
		}
		bad := acts[i]
		bad.TalkSeconds = math.NaN()
		if err := f.WriteBatch([]bridge.Activity{acts[i], bad}); err == nil {
			t.Fatal("an activity with NaN seconds was written")
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the file is not json.Marshal's bytes (%d against %d bytes)", len(got), len(want))
	}
}

type logStage struct {
	name string
	log  *[]string
	drop string // the activity id it stops
}

func (s logStage) Handle(_ context.Context, a bridge.Activity) bool {
	*s.log = append(*s.log, s.name+" "+a.ID)
	return a.ID != s.drop
}

type logBatch struct{ logStage }

func (s logBatch) HandleBatch(_ context.Context, as []bridge.Activity, pass []bool) {
	ids := ""
	for i, a := range as {
		if pass[i] {
			ids += a.ID
			pass[i] = a.ID != s.drop
		}
	}
	*s.log = append(*s.log, s.name+" "+ids)
}

// The sink takes a batch at once, before any later stage sees one of its
// activities; the later stages take them one by one, as they would
// without batches; an activity a stage stops goes no further.
func TestStagesHandleBatch(t *testing.T) {
	var log []string
	st := Stages{logBatch{logStage{"sink", &log, "z"}}, logStage{"policy", &log, "y"}, logStage{"queue", &log, ""},
		logBatch{logStage{"after", &log, ""}}}
	pass := st.HandleBatch(context.Background(), []bridge.Activity{{ID: "x"}, {ID: "y"}, {ID: "z"}, {ID: "w"}})
	want := []string{"sink xyzw", "policy x", "queue x", "policy y", "policy w", "queue w", "after xw"}
	if strings.Join(log, ",") != strings.Join(want, ",") {
		t.Fatalf("order %q, want %q", log, want)
	}
	if fmt.Sprint(pass) != "[true false false true]" {
		t.Fatalf("pass %v", pass)
	}
}

type failingWriter struct{ batches int }

func (w *failingWriter) Write(bridge.Activity) error { return errors.New("disk full") }
func (w *failingWriter) WriteBatch([]bridge.Activity) error {
	w.batches++
	return errors.New("disk full")
}

// A batch the sink cannot keep goes no further, every activity of it
// counted as an error, with one attempt to write it.
func TestSinkBatchNotWritten(t *testing.T) {
	w := &failingWriter{}
	errs := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
	var log []string
	st := Stages{Sink{To: w, Log: zerolog.Nop(), Errors: errs}, logStage{"policy", &log, ""}}
	pass := st.HandleBatch(context.Background(), []bridge.Activity{{ID: "a"}, {ID: "b"}})
	if fmt.Sprint(pass) != "[false false]" || len(log) != 0 || w.batches != 1 || testutil.ToFloat64(errs) != 2 {
		t.Fatalf("pass %v, later stages %q, %d writes, %v errors", pass, log, w.batches, testutil.ToFloat64(errs))
	}
}

// Batches that come while another is being written and synced (several
// sources at once) are written and synced together, after it.
func TestFileGroupsConcurrentBatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "activities.jsonl")
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	release := make(chan struct{})
	writes := 0
	f.beforeWrite = func() {
		writes++
		if writes == 1 {
			<-release // the first write is slow
		}
	}
	errs := make(chan error, 3)
	go func() { errs <- f.Write(bridge.Activity{ID: "first"}) }()
	waitFor := func(cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			f.mu.Lock()
			ok := cond()
			f.mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("timed out")
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(func() bool { return f.busy })
	go func() { errs <- f.WriteBatch([]bridge.Activity{{ID: "b1"}, {ID: "b2"}}) }()
	go func() { errs <- f.Write(bridge.Activity{ID: "c"}) }()
	waitFor(func() bool { return f.next != nil && strings.Count(string(f.next.lines), "\n") == 3 })
	close(release)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if writes != 2 {
		t.Errorf("%d writes and syncs, want 2", writes)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], `"first"`) {
		t.Fatalf("%q", lines)
	}
}

// Writers at the same time lose no line and tear none.
func TestFileConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "activities.jsonl")
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				if err := f.WriteBatch([]bridge.Activity{{ID: fmt.Sprint(w, "-", i, "a")}, {ID: fmt.Sprint(w, "-", i, "b")}}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var a bridge.Activity
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("torn line %q: %v", line, err)
		}
		seen[a.ID] = true
	}
	if len(seen) != 200 {
		t.Fatalf("%d activities, want 200", len(seen))
	}
}
