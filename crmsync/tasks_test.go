package crmsync_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
)

// updCRM is a connector with updates and callbacks that logs what it was
// asked, in order. It refuses the activity "refused" for good.
type updCRM struct {
	mu  sync.Mutex
	ops []string
}

func (c *updCRM) Name() string { return "crm" }

func (c *updCRM) log(op string) {
	c.mu.Lock()
	c.ops = append(c.ops, op)
	c.mu.Unlock()
}

func (c *updCRM) Push(_ context.Context, d crmsync.Delivery) error {
	if d.Activity.ID == "refused" {
		return crmerr.Permanent(errors.New("422"))
	}
	c.log("push " + d.Activity.ID)
	return nil
}

func (c *updCRM) PushOpen(_ context.Context, d crmsync.Delivery) error {
	c.log("open " + d.Activity.ID)
	return nil
}

func (c *updCRM) Update(_ context.Context, u crmsync.UpdateRequest) error {
	code := ""
	if u.Wrapup != nil {
		code = " " + u.Wrapup.Code
	}
	c.log(fmt.Sprintf("update %s%s complete=%v", u.ActivityID, code, u.Complete))
	return nil
}

func (c *updCRM) PushCallback(_ context.Context, cb crmsync.Callback) error {
	c.log("callback " + cb.ID)
	return nil
}

func (c *updCRM) has(op string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(c.ops, op)
}

func (c *updCRM) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ops)
}

func wrapTask(id, activity string, code string, complete bool) crmsync.Job {
	u := &crmsync.UpdateRequest{ID: id, ActivityID: activity, CallID: "c-" + activity, User: "101", Complete: complete}
	if code != "" {
		u.Wrapup = &crmsync.Wrapup{Code: code, At: time.Unix(3, 0)}
	}
	return crmsync.Job{Activity: bridge.Activity{ID: activity, CallID: "c-" + activity, User: "101"},
		Task: &crmsync.Task{ID: id, Update: u, After: activity}}
}

func put(t *testing.T, s crmsync.Store, j crmsync.Job, due time.Time) {
	t.Helper()
	if _, err := s.EnqueueJob(context.Background(), "crm", j, due); err != nil {
		t.Fatal(err)
	}
}

func taskDispatcher(t *testing.T, s crmsync.Store, c crmsync.Connector) *crmsync.Dispatcher {
	d, err := crmsync.NewDispatcher(s, []crmsync.Connector{c}, fastDelivery(), crmsync.DispatcherOptions{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A wrap-up that arrives before its activity waits for the activity's
// delivery; an open push goes through PushOpen.
func TestUpdateWaitsForItsActivity(t *testing.T) {
	s := newStore(t)
	crm := &updCRM{}
	put(t, s, wrapTask("wrapup:a1", "a1", "SALE", true), time.Time{})
	d := taskDispatcher(t, s, crm)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { d.Run(ctx); close(stopped) }()
	time.Sleep(150 * time.Millisecond) // the update is claimed and waits
	if len(crm.list()) != 0 {
		t.Fatalf("ran before its activity: %v", crm.list())
	}
	put(t, s, crmsync.Job{Activity: bridge.Activity{ID: "a1", CallID: "c-a1", User: "101"}, Open: true}, time.Time{})
	deadline := time.Now().Add(10 * time.Second)
	for !crm.has("update a1 SALE complete=true") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-stopped
	if got := crm.list(); !slices.Equal(got, []string{"open a1", "update a1 SALE complete=true"}) {
		t.Fatalf("ops %v", got)
	}
}

// The timeout's completion is skipped when a wrap-up took its place; an
// update whose activity never came is given up at GiveUpAt; one whose
// activity is dead goes to the dead letters; callbacks reach PushCallback.
func TestTaskOutcomes(t *testing.T) {
	s := newStore(t)
	crm := &updCRM{}
	enqueue(t, s, "a2", "refused")
	timeout := wrapTask("complete:a2", "a2", "", true)
	timeout.Task.SkipIf = "wrapup:a2"
	put(t, s, wrapTask("wrapup:a2", "a2", "NOSALE", true), time.Time{})
	put(t, s, timeout, time.Now().Add(200*time.Millisecond))
	gone := wrapTask("wrapup:never", "never", "SALE", false)
	gone.Task.GiveUpAt = time.Now().Add(-time.Second)
	put(t, s, gone, time.Time{})
	put(t, s, wrapTask("wrapup:refused", "refused", "SALE", false), time.Time{})
	put(t, s, crmsync.Job{Task: &crmsync.Task{ID: "cb1", Callback: &crmsync.Callback{ID: "cb1", Number: "+358401234567", Queue: "support"}}}, time.Time{})

	runUntil(t, taskDispatcher(t, s, crm), func() bool {
		st, _ := s.Stats(context.Background())
		return len(st) == 1 && st[0].Ready+st[0].Delayed+st[0].InFlight == 0
	})
	got := crm.list()
	slices.Sort(got)
	want := []string{"callback cb1", "push a2", "update a2 NOSALE complete=true"}
	if !slices.Equal(got, want) {
		t.Fatalf("ops %v, want %v", got, want)
	}
	for id, want := range map[string]crmsync.JobState{"complete:a2": crmsync.JobDelivered, "wrapup:never": crmsync.JobDelivered,
		"wrapup:refused": crmsync.JobDead, "cb1": crmsync.JobDelivered} {
		if st, err := s.JobState(context.Background(), "crm", id); err != nil || st != want {
			t.Errorf("%s: %v %v, want %v", id, st, err, want)
		}
	}
}

// A connector without Updater gets open activities as plain pushes and no
// updates; one without CallbackWriter no callbacks. Neither is an error.
func TestTasksForPlainConnector(t *testing.T) {
	s := newStore(t)
	crm := &batchCRM{delivered: map[string]int{}}
	put(t, s, crmsync.Job{Activity: bridge.Activity{ID: "p1", CallID: "c", User: "101"}, Open: true}, time.Time{})
	put(t, s, wrapTask("wrapup:p1", "p1", "SALE", false), time.Time{})
	put(t, s, crmsync.Job{Task: &crmsync.Task{ID: "cb2", Callback: &crmsync.Callback{ID: "cb2"}}}, time.Time{})
	runUntil(t, taskDispatcher(t, s, crm), func() bool {
		st, _ := s.Stats(context.Background())
		return len(st) == 1 && st[0].Delivered == 3
	})
	if crm.count() != 1 || crm.delivered["p1"] != 1 {
		t.Fatalf("delivered %v", crm.delivered)
	}
	if dead, _ := s.DeadLetters(context.Background(), "", 0); len(dead) != 0 {
		t.Fatalf("dead letters %+v", dead)
	}
}

// In a backlog, plain activities go in batches while open pushes and
// tasks go one by one.
func TestBacklogBatchesOnlyPlainActivities(t *testing.T) {
	s := newStore(t)
	crm := &batchUpdCRM{batchCRM: batchCRM{delivered: map[string]int{}}}
	var ids []string
	for i := range 60 {
		ids = append(ids, fmt.Sprintf("b%02d", i))
	}
	enqueue(t, s, ids...)
	for i := range 20 {
		id := fmt.Sprintf("o%02d", i)
		put(t, s, crmsync.Job{Activity: bridge.Activity{ID: id, CallID: "c", User: "101"}, Open: true}, time.Time{})
		put(t, s, wrapTask("wrapup:"+id, id, "SALE", true), time.Time{})
	}
	runUntil(t, taskDispatcher(t, s, crm), func() bool { return crm.count() == 60 && crm.updates() == 20 })
	if len(crm.batches) == 0 || crm.opens() != 20 || crm.updates() != 20 {
		t.Fatalf("batches %v, opens %d, updates %d", crm.batches, crm.opens(), crm.updates())
	}
}

type batchUpdCRM struct {
	batchCRM
	updCRM
}

func (c *batchUpdCRM) Name() string { return "crm" }
func (c *batchUpdCRM) Push(ctx context.Context, d crmsync.Delivery) error {
	return c.batchCRM.Push(ctx, d)
}
func (c *batchUpdCRM) opens() int   { return c.countOps("open ") }
func (c *batchUpdCRM) updates() int { return c.countOps("update ") }
func (c *batchUpdCRM) countOps(prefix string) int {
	n := 0
	for _, op := range c.updCRM.list() {
		if len(op) >= len(prefix) && op[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}
