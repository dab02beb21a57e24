package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/ari/ami/fakeami"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/phone"
)

// The live AMI client, over a real connection, gets the path the same
// activities in batches as a replay of its recording gives one event at a
// time (how the events fall into reads is the network's business here;
// ari/ami's TestBatchPerRead pins that down).
func TestPathAMIBatches(t *testing.T) {
	rec, err := os.ReadFile(filepath.Join("../../testdata/recordings", "ring_group", "ami.txt"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("../../testdata/recordings", "ring_group", "ami.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	ref := NewEngine(bridge.Config{Source: "ami", Trunks: []string{"pstn"}}, phone.Normalizer{}, func(a bridge.Activity) { want[a.ID] = "ami/" + a.User }, nil)
	if _, err := ami.ReadRecording(f, ref.Handle); err != nil {
		t.Fatal(err)
	}
	srv, err := fakeami.Start(fakeami.Config{Recording: rec, Username: "bridge", Secret: "s3cret", HoldUntilSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl, err := ami.New(ami.Config{Host: srv.Host(), Port: srv.Port(), Username: "bridge", Secret: "s3cret",
		Logger: zerolog.Nop(), MinBackoff: 10 * time.Millisecond, MaxBackoff: 80 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := &collectBatches{collect: collect{acts: map[string]string{}}}
	p, err := Build(Parts{
		Sources: map[string]Source{"ami": cl},
		Engine:  bridge.Config{Trunks: []string{"pstn"}},
		Sink:    sink,
		Logger:  zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Restore(ctx, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.RunSources(ctx) }()
	kept := func() int {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return len(sink.acts)
	}
	// Every activity is kept once its batch ends, which needs no more
	// input: only a client that held a batch open would run into the limit.
	deadline := time.Now().Add(10 * time.Second)
	for kept() < len(want) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(sink.acts) != len(want) || len(want) < 2 {
		t.Fatalf("sink has %v, want %v", sink.acts, want)
	}
	for id, w := range want {
		if sink.acts[id] != w {
			t.Errorf("%s: %q, want %q", id, sink.acts[id], w)
		}
	}
	total := 0
	for _, n := range sink.sizes {
		total += n
	}
	if total != len(want) {
		t.Errorf("batches of %v activities, %d in all, want %d", sink.sizes, total, len(want))
	}
}
