package crmsync_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
)

// callLog is a store without batches that notes which calls it got.
type callLog struct {
	crmsync.Store
	calls []string
}

func (s *callLog) Enqueue(ctx context.Context, c string, a bridge.Activity) (bool, error) {
	s.calls = append(s.calls, "Enqueue "+a.ID)
	return s.Store.Enqueue(ctx, c, a)
}

func (s *callLog) EnqueueJob(ctx context.Context, c string, j crmsync.Job, due time.Time) (bool, error) {
	s.calls = append(s.calls, "EnqueueJob "+j.ID())
	return s.Store.EnqueueJob(ctx, c, j, due)
}

func (s *callLog) ReserveStart(ctx context.Context, k crmsync.StartKey) (string, error) {
	s.calls = append(s.calls, "ReserveStart "+k.ID)
	return s.Store.ReserveStart(ctx, k)
}

// A store that does not take batches gets the calls the intake made
// before there were batches, one by one and in order: Enqueue for a plain
// activity due now, EnqueueJob for the rest.
func TestBatchesOnAStoreWithout(t *testing.T) {
	s := &callLog{Store: newStore(t)}
	ctx := context.Background()
	a := func(id string) bridge.Activity { return bridge.Activity{ID: id, CallID: "c-" + id, User: "101"} }
	jobs := []crmsync.NewJob{
		{Connector: "crm", Job: crmsync.Job{Activity: a("plain")}},
		{Connector: "crm", Job: crmsync.Job{Activity: a("open"), Open: true}},
		{Connector: "crm", Job: crmsync.Job{Activity: a("later")}, Due: time.Unix(1<<32, 0)},
		{Connector: "crm", Job: crmsync.Job{Activity: a("plain")}},
	}
	added, err := crmsync.EnqueueJobs(ctx, s, jobs)
	if err != nil || fmt.Sprint(added) != "[true true true false]" {
		t.Fatalf("added %v, %v", added, err)
	}
	keys := []crmsync.StartKey{{User: "101", Remote: "1", ID: "k1"}, {User: "101", Remote: "1", ID: "k2"}}
	dups, err := crmsync.ReserveStarts(ctx, s, keys)
	if err != nil || fmt.Sprint(dups) != "[ k1]" {
		t.Fatalf("duplicates %q, %v", dups, err)
	}
	want := "[Enqueue plain EnqueueJob open EnqueueJob later Enqueue plain ReserveStart k1 ReserveStart k2]"
	if fmt.Sprint(s.calls) != want {
		t.Fatalf("calls %v\nwant  %v", s.calls, want)
	}
}
