package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/phone"
	"github.com/callbridge/callbridge/sip/hep"
)

// replaySource is a decode stage that hands out recorded events.
type replaySource []bridge.Event

func (r replaySource) Run(ctx context.Context, out func(bridge.Event)) error {
	for _, ev := range r {
		out(ev)
	}
	<-ctx.Done()
	return nil
}

type collect struct {
	mu   sync.Mutex
	acts map[string]string
	fail bool
}

func (c *collect) Write(a bridge.Activity) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail {
		return errors.New("disk full")
	}
	c.acts[a.ID] = a.Source + "/" + a.User
	return nil
}

// The sources tell their batches: ARI and AMI what a read brought, the
// HEP collector what its listeners had received.
var (
	_ BatchSource = (*ari.Source)(nil)
	_ BatchSource = (*ami.Client)(nil)
	_ BatchSource = (*hep.Collector)(nil)
)

// batchSource hands out recorded events n at a time, as a source that read
// n from one read would.
type batchSource struct {
	evs []bridge.Event
	n   int
}

func (b batchSource) Run(context.Context, func(bridge.Event)) error {
	panic("a BatchSource is run by RunBatches")
}

func (b batchSource) RunBatches(ctx context.Context, out func(bridge.Event), ready func()) error {
	for i, ev := range b.evs {
		out(ev)
		if i%b.n == b.n-1 {
			ready()
		}
	}
	<-ctx.Done() // the last batch is left open: stopping ends it
	return nil
}

type collectBatches struct {
	collect
	sizes []int
}

func (c *collectBatches) WriteBatch(as []bridge.Activity) error {
	for _, a := range as {
		c.Write(a)
	}
	c.mu.Lock()
	c.sizes = append(c.sizes, len(as))
	c.mu.Unlock()
	return nil
}

// A source that tells its batches has them kept by the sink a batch at a
// time, with the same activities as one event at a time.
func TestPathBatches(t *testing.T) {
	evs := events(t, "ring_group")
	want := map[string]string{}
	ref := NewEngine(bridge.Config{Source: "ari", Trunks: []string{"pstn"}}, phone.Normalizer{}, func(a bridge.Activity) { want[a.ID] = "ari/" + a.User }, nil)
	for _, ev := range evs {
		ref.Handle(ev)
	}
	sink := &collectBatches{collect: collect{acts: map[string]string{}}}
	p, err := Build(Parts{
		Sources: map[string]Source{"ari": batchSource{evs, len(evs)}},
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
	deadline := time.Now().Add(10 * time.Second)
	for _, n := p.Stats(); n < len(evs) && time.Now().Before(deadline); _, n = p.Stats() {
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
	if len(sink.sizes) != 1 || sink.sizes[0] != len(want) {
		t.Errorf("batches of %v activities, want one of %d", sink.sizes, len(want))
	}
}

// A built path without a CRM hands its sink what the engine finishes, with
// the source's name, and restores from and writes to the journal.
func TestPathToSink(t *testing.T) {
	evs := events(t, "ring_group")
	want := map[string]string{}
	ref := NewEngine(bridge.Config{Source: "ari", Trunks: []string{"pstn"}}, phone.Normalizer{}, func(a bridge.Activity) { want[a.ID] = "ari/" + a.User }, nil)
	for _, ev := range evs {
		ref.Handle(ev)
	}
	sink := &collect{acts: map[string]string{}}
	var live int
	p, err := Build(Parts{
		Sources: map[string]Source{"ari": replaySource(evs)},
		Engine:  bridge.Config{Trunks: []string{"pstn"}},
		Sink:    sink,
		Live:    func(source string, _ bridge.Transition) { live++ },
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
	deadline := time.Now().Add(10 * time.Second)
	for _, n := p.Stats(); n < len(evs) && time.Now().Before(deadline); _, n = p.Stats() {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := p.RunDelivery(context.Background()); err != nil {
		t.Errorf("RunDelivery without a CRM: %v", err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.acts) != len(want) || len(want) == 0 {
		t.Fatalf("sink has %v, want %v", sink.acts, want)
	}
	for id, w := range want {
		if sink.acts[id] != w {
			t.Errorf("%s: %q, want %q", id, sink.acts[id], w)
		}
	}
	if live == 0 {
		t.Error("no live transition published")
	}
}

type stage struct {
	pass bool
	seen *int
}

func (s stage) Handle(context.Context, bridge.Activity) bool { *s.seen++; return s.pass }

// A stage that stops the activity is the last to see it.
func TestStagesStop(t *testing.T) {
	var a, b, c int
	ok := Stages{stage{true, &a}, stage{false, &b}, stage{true, &c}}.Handle(context.Background(), bridge.Activity{})
	if ok || a != 1 || b != 1 || c != 0 {
		t.Errorf("passed %v; seen %d %d %d", ok, a, b, c)
	}
	// The sink stage stops an activity it could not write.
	s := &collect{acts: map[string]string{}, fail: true}
	if (Sink{To: s, Log: zerolog.Nop()}).Handle(context.Background(), bridge.Activity{ID: "x"}) {
		t.Error("an unwritten activity went on past the sink")
	}
}

// An engine stuck in an event is reported; an idle one is alive.
func TestAlive(t *testing.T) {
	p := &Path{sources: []*source{{name: "ari"}, {name: "ami"}}}
	if err := p.Alive(context.Background(), 50*time.Millisecond); err != nil {
		t.Fatalf("idle: %v", err)
	}
	p.sources[1].mu.Lock() // an event that never returns
	err := p.Alive(context.Background(), 50*time.Millisecond)
	p.sources[1].mu.Unlock()
	if err == nil || !strings.Contains(err.Error(), "ami engine: stuck") {
		t.Fatalf("stuck: %v", err)
	}
}
