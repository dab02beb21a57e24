package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/phone"
)

// BenchmarkSink measures sink.file per activity (the activities of every
// recording, in turn): old is the sink before batches, measured in the
// same run (an encoding, a write and an fsync per activity); batch=N
// keeps N activities with one write and one fsync; sources=4 is four
// writers of one activity at a time each. The file is under
// $TMPDIR: point it at the disk state_dir is on, not a tmpfs.
func BenchmarkSink(b *testing.B) {
	names, _ := filepath.Glob("../../testdata/recordings/*/ari.jsonl")
	var acts []bridge.Activity
	for _, path := range names {
		e := NewEngine(cfg, phone.Normalizer{}, func(a bridge.Activity) { acts = append(acts, a) }, nil)
		for _, ev := range events(b, filepath.Base(filepath.Dir(path))) {
			e.Handle(ev)
		}
		e.Flush()
	}
	b.Run("old", func(b *testing.B) {
		f, err := os.OpenFile(filepath.Join(b.TempDir(), "activities.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		for i := range b.N {
			line, err := json.Marshal(acts[i%len(acts)])
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Write(append(line, '\n')); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Four sources at once, a batch of one activity each: their writes
	// and syncs are grouped.
	b.Run("sources=4", func(b *testing.B) {
		f, err := OpenFile(filepath.Join(b.TempDir(), "activities.jsonl"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.SetParallelism(4 / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if err := f.Write(acts[i%len(acts)]); err != nil {
					b.Error(err)
				}
			}
		})
	})
	for _, n := range []int{1, 4, 32} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			f, err := OpenFile(filepath.Join(b.TempDir(), "activities.jsonl"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			batch := make([]bridge.Activity, 0, n)
			for i := range b.N {
				batch = append(batch, acts[i%len(acts)])
				if len(batch) == n || i == b.N-1 {
					if err := f.WriteBatch(batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
		})
	}
}
