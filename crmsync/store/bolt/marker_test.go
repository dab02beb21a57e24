package bolt_test

import (
	"context"
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/bolt"
	"github.com/callbridge/callbridge/crmsync/store/storetest"
)

// openWithClock opens a store whose clock reads *now.
func openWithClock(t *testing.T, now *time.Time, retention time.Duration) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(t.TempDir(), bolt.Options{Now: func() time.Time { return *now }, MarkerRetention: retention})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func deliver(t *testing.T, s *bolt.Store, id string) {
	t.Helper()
	ctx := context.Background()
	if added, err := s.Enqueue(ctx, "hook", storetest.Activity(id)); err != nil || !added {
		t.Fatalf("enqueue %s: added %v, %v", id, added, err)
	}
	jobs, err := s.Claim(ctx, crmsync.ClaimRequest{Connector: "hook", Worker: "w", Max: 1, Lease: time.Minute})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim %s: %v, %v", id, jobs, err)
	}
	if err := s.Ack(ctx, jobs[0]); err != nil {
		t.Fatal(err)
	}
}

// A delivered activity is refused for MarkerRetention after its delivery,
// and accepted again once a prune after that has forgotten it.
func TestDeliveredMarkerKeptForTheRetention(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC)
	s := openWithClock(t, &now, 48*time.Hour)
	deliver(t, s, "a1")
	for _, c := range []struct {
		after time.Duration
		state crmsync.JobState
	}{{47 * time.Hour, crmsync.JobDelivered}, {49 * time.Hour, crmsync.JobUnknown}} {
		if err := s.Prune(now.Add(c.after)); err != nil {
			t.Fatal(err)
		}
		if st, err := s.JobState(ctx, "hook", "a1"); err != nil || st != c.state {
			t.Fatalf("%v after delivery: state %v, %v; want %v", c.after, st, err, c.state)
		}
	}
	if added, err := s.Enqueue(ctx, "hook", storetest.Activity("a1")); err != nil || !added {
		t.Errorf("after the retention: added %v, %v; want it enqueued again", added, err)
	}
}
