package crmsync_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
)

// oneByOneCRM pushes one activity at a time (no batches).
type oneByOneCRM struct{ crm *batchCRM }

func (c oneByOneCRM) Name() string { return c.crm.Name() }

func (c oneByOneCRM) Push(ctx context.Context, d crmsync.Delivery) error {
	return c.crm.Push(ctx, d)
}

// claimCounter records the size of every claim that found work.
type claimCounter struct {
	crmsync.Store
	mu     sync.Mutex
	claims []int
}

func (s *claimCounter) Claim(ctx context.Context, req crmsync.ClaimRequest) ([]crmsync.Job, error) {
	jobs, err := s.Store.Claim(ctx, req)
	if len(jobs) > 0 {
		s.mu.Lock()
		s.claims = append(s.claims, len(jobs))
		s.mu.Unlock()
	}
	return jobs, err
}

// With a backlog, a connector that pushes one at a time still gets each
// worker a share of several jobs per claim, pushed one after another:
// every activity is delivered once, the refused one dead-lettered, the
// throttled one retried.
func TestDispatcherSharesBacklogOfSinglePushes(t *testing.T) {
	store := &claimCounter{Store: newStore(t)}
	ids := []string{"refused", "slow"}
	for i := range 60 {
		ids = append(ids, fmt.Sprintf("p%03d", i))
	}
	enqueue(t, store, ids...)
	crm := &batchCRM{delivered: map[string]int{}}
	cfg := fastDelivery() // 2 workers
	d, err := crmsync.NewDispatcher(store, []crmsync.Connector{oneByOneCRM{crm}}, cfg, crmsync.DispatcherOptions{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, d, func() bool { return crm.count() == 61 })
	if crm.count() != 61 || len(crm.batches) != 0 {
		t.Fatalf("%d delivered, batches %v: want 61 pushed one by one", crm.count(), crm.batches)
	}
	for id, n := range crm.delivered {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	if store.claims[0] != cfg.Concurrency*3 {
		t.Errorf("the first claim took %d jobs, want 3 for each of %d workers", store.claims[0], cfg.Concurrency)
	}
	if len(store.claims) > 62/cfg.Concurrency {
		t.Errorf("%d claims for 62 jobs: %v", len(store.claims), store.claims)
	}
	dead, err := store.DeadLetters(context.Background(), "crm", 0)
	if err != nil || len(dead) != 1 || dead[0].Activity.ID != "refused" {
		t.Fatalf("dead letters %+v %v", dead, err)
	}
}
