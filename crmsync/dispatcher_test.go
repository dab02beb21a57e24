package crmsync_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
)

// batchCRM is a connector that can push in batches. It refuses activity
// "refused" for good, throttles "slow" once, and answers 401 to every push
// until Refresh when locked.
type batchCRM struct {
	mu        sync.Mutex
	locked    bool
	delivered map[string]int
	batches   []int // sizes of the batches pushed
	singles   int
	throttled bool
	templates map[string]string // the assignment's template, by activity id (when set)
}

func (c *batchCRM) Name() string { return "crm" }

func (c *batchCRM) Push(ctx context.Context, d crmsync.Delivery) error {
	c.mu.Lock()
	c.singles++
	c.mu.Unlock()
	return c.PushBatch(ctx, []crmsync.Delivery{d})[0]
}

func (c *batchCRM) PushBatch(_ context.Context, ds []crmsync.Delivery) []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(ds) > 1 {
		c.batches = append(c.batches, len(ds))
	}
	errs := make([]error, len(ds))
	for i, d := range ds {
		a := d.Activity
		switch {
		case c.locked:
			errs[i] = crmerr.Unauthorized(errors.New("401"))
		case a.ID == "refused":
			errs[i] = crmerr.Permanent(errors.New("422 unknown attribute"))
		case a.ID == "slow" && !c.throttled:
			c.throttled = true
			errs[i] = crmerr.Retryable(errors.New("429"), 50*time.Millisecond)
		default:
			c.delivered[a.ID]++
			if c.templates != nil {
				c.templates[a.ID] = d.Assignment.Template
			}
		}
	}
	return errs
}

func (c *batchCRM) Refresh(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.locked = false
	return nil
}

func (c *batchCRM) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.delivered)
}

func fastDelivery() crmsync.DeliveryConfig {
	cfg := crmsync.DefaultDeliveryConfig()
	cfg.Concurrency = 2
	cfg.BackoffMin, cfg.BackoffMax, cfg.PollInterval = 20*time.Millisecond, 100*time.Millisecond, 20*time.Millisecond
	return cfg
}

func enqueue(t *testing.T, s crmsync.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		a := bridge.Activity{ID: id, CallID: "c-" + id, User: "101", StartedAt: time.Unix(1, 0), EndedAt: time.Unix(2, 0)}
		if _, err := s.Enqueue(context.Background(), "crm", a); err != nil {
			t.Fatal(err)
		}
	}
}

func runUntil(t *testing.T, d *crmsync.Dispatcher, done func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { d.Run(ctx); close(stopped) }()
	deadline := time.Now().Add(15 * time.Second)
	for !done() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-stopped
}

// A backlog is drained in batches, each activity settled on its own: the
// refused one is dead-lettered with the CRM's reason, the throttled one
// retried, the rest delivered once.
func TestDispatcherDrainsBacklogInBatches(t *testing.T) {
	store := newStore(t)
	ids := []string{"refused", "slow"}
	for i := range 248 {
		ids = append(ids, fmt.Sprintf("a%03d", i))
	}
	enqueue(t, store, ids...)
	crm := &batchCRM{delivered: map[string]int{}}
	d, err := crmsync.NewDispatcher(store, []crmsync.Connector{crm}, fastDelivery(), crmsync.DispatcherOptions{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, d, func() bool { return crm.count() == 249 })

	if crm.count() != 249 {
		t.Fatalf("%d delivered, want 249", crm.count())
	}
	for id, n := range crm.delivered {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	if len(crm.batches) == 0 {
		t.Fatal("the backlog was pushed one by one")
	}
	for _, n := range crm.batches {
		if n > 100 {
			t.Errorf("a batch of %d", n)
		}
	}
	dead, err := store.DeadLetters(context.Background(), "crm", 0)
	if err != nil || len(dead) != 1 || dead[0].Activity.ID != "refused" || dead[0].Reason == "" {
		t.Fatalf("dead letters %+v %v", dead, err)
	}
}

// One activity at a time goes by Push, not in a batch of one.
func TestDispatcherPushesSinglesAlone(t *testing.T) {
	store := newStore(t)
	crm := &batchCRM{delivered: map[string]int{}}
	d, err := crmsync.NewDispatcher(store, []crmsync.Connector{crm}, fastDelivery(), crmsync.DispatcherOptions{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { d.Run(ctx); close(stopped) }()
	for i := range 3 {
		enqueue(t, store, fmt.Sprintf("s%d", i))
		deadline := time.Now().Add(5 * time.Second)
		for crm.count() != i+1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	cancel()
	<-stopped
	if crm.count() != 3 || crm.singles != 3 || len(crm.batches) != 0 {
		t.Fatalf("delivered %d, singles %d, batches %v", crm.count(), crm.singles, crm.batches)
	}
}

// A batch refused for its credential is pushed again after one refresh,
// and nothing is dead-lettered for it.
func TestDispatcherBatchRefreshesOn401(t *testing.T) {
	store := newStore(t)
	var ids []string
	for i := range 40 {
		ids = append(ids, fmt.Sprintf("u%02d", i))
	}
	enqueue(t, store, ids...)
	crm := &batchCRM{delivered: map[string]int{}, locked: true}
	d, err := crmsync.NewDispatcher(store, []crmsync.Connector{crm}, fastDelivery(), crmsync.DispatcherOptions{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, d, func() bool { return crm.count() == 40 })
	if crm.count() != 40 {
		t.Fatalf("%d delivered, want 40", crm.count())
	}
	if dead, _ := store.DeadLetters(context.Background(), "", 0); len(dead) != 0 {
		t.Fatalf("dead letters after a 401: %+v", dead)
	}
}

// assignByID is a policy that gives every activity a template of its own.
type assignByID struct{}

func (assignByID) Assign(a bridge.Activity) crmsync.Assignment {
	return crmsync.Assignment{Template: "T-" + a.ID}
}

// The assignment is computed for each delivery and travels with it, in
// batches and in single pushes alike.
func TestDispatcherCarriesAssignment(t *testing.T) {
	store := newStore(t)
	var ids []string
	for i := range 120 {
		ids = append(ids, fmt.Sprintf("t%03d", i))
	}
	enqueue(t, store, ids...)
	crm := &batchCRM{delivered: map[string]int{}, templates: map[string]string{}}
	d, err := crmsync.NewDispatcher(store, []crmsync.Connector{crm}, fastDelivery(), crmsync.DispatcherOptions{Logger: zerolog.Nop(), Assign: crmsync.Assign{Assigner: assignByID{}}})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, d, func() bool { return crm.count() == len(ids) })
	if len(crm.batches) == 0 {
		t.Fatal("no batch was pushed")
	}
	crm.mu.Lock()
	defer crm.mu.Unlock()
	for _, id := range ids {
		if got := crm.templates[id]; got != "T-"+id {
			t.Errorf("%s pushed with template %q", id, got)
		}
	}
}

// slowAcks is a store whose Acks wait for release.
type slowAcks struct {
	crmsync.Store
	acking  chan string
	release chan struct{}
}

func (s slowAcks) Ack(ctx context.Context, j crmsync.Job) error {
	s.acking <- j.ID()
	<-s.release
	return s.Store.Ack(ctx, j)
}

// countingCRM records the activities pushed to it, in order.
type countingCRM struct {
	mu     sync.Mutex
	pushed []string
}

func (c *countingCRM) Name() string { return "crm" }

func (c *countingCRM) Push(_ context.Context, d crmsync.Delivery) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pushed = append(c.pushed, d.Activity.ID)
	return nil
}

func (c *countingCRM) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pushed)
}

// A worker's slot is its push: while outcomes are recorded (an Ack, which
// the embedded store may keep waiting to share a commit) the next pushes
// run, and outcomes being recorded are bounded: SettleBound per worker.
func TestDispatcherPushesWhileAnOutcomeIsRecorded(t *testing.T) {
	bound := crmsync.SettleBound // delivery.concurrency 1
	store := slowAcks{Store: newStore(t), acking: make(chan string, bound+8), release: make(chan struct{})}
	ids := make([]string, bound+3)
	for i := range ids {
		ids[i] = fmt.Sprintf("a%03d", i)
	}
	enqueue(t, store.Store, ids...)
	crm := &countingCRM{}
	cfg := fastDelivery()
	cfg.Concurrency = 1
	// A lease of two push timeouts: a worker takes one job at a time,
	// even from a backlog (a share's outcomes are recorded together,
	// after its pushes).
	cfg.Lease = 2 * cfg.PushTimeout
	d, err := crmsync.NewDispatcher(store, []crmsync.Connector{crm}, cfg, crmsync.DispatcherOptions{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { d.Run(ctx); close(stopped) }()
	var released sync.Once
	release := func() { released.Do(func() { close(store.release) }) }
	defer func() { release(); cancel(); <-stopped }()
	<-store.acking // the first Ack waits
	// bound outcomes being recorded, and one more push whose outcome
	// waits for room, holding the one slot.
	want := bound + 1
	deadline := time.Now().Add(10 * time.Second)
	for crm.count() < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := crm.count(); n != want {
		t.Fatalf("%d pushes while the Acks waited, want %d: the pushes go on while up to %d outcomes are recorded", n, want, bound)
	}
	time.Sleep(50 * time.Millisecond)
	if n := crm.count(); n != want {
		t.Fatalf("%d pushes with %d outcomes being recorded and one waiting, want %d (delivery.concurrency 1)", n, bound, want)
	}
	release()
	for crm.count() < len(ids) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := crm.count(); n != len(ids) {
		t.Fatalf("%d pushes after the Acks were released, want %d", n, len(ids))
	}
}
