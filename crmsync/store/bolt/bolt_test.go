package bolt_test

import (
	"context"
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/bolt"
	"github.com/callbridge/callbridge/crmsync/store/storetest"
)

func TestConformance(t *testing.T) {
	dirs := map[crmsync.Store]string{}
	clocks := map[crmsync.Store]func() time.Time{}
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T, now func() time.Time) crmsync.Store {
			dir := t.TempDir()
			s, err := bolt.Open(dir, bolt.Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			dirs[s], clocks[s] = dir, now
			return s
		},
		Reopen: func(t *testing.T, old crmsync.Store) crmsync.Store {
			old.Close()
			s, err := bolt.Open(dirs[old], bolt.Options{Now: clocks[old]})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			dirs[s], clocks[s] = dirs[old], clocks[old]
			return s
		},
	})
}

// Pruning ages starts on the activities' own times: a prune years after
// the events forgets nothing that a replay of them would still need.
func TestPruneKeepsStartsByEventTime(t *testing.T) {
	s, err := bolt.Open(t.TempDir(), bolt.Options{StartRetention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC)
	reserve := func(at time.Time, id string) string {
		t.Helper()
		dup, err := s.ReserveStart(ctx, crmsync.StartKey{User: "101", Remote: "+358401234567", Start: at, Margin: time.Second, ID: id})
		if err != nil {
			t.Fatal(err)
		}
		return dup
	}
	reserve(t0, "old")
	reserve(t0.Add(48*time.Hour), "new")
	if err := s.Prune(t0.AddDate(30, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if dup := reserve(t0.Add(48*time.Hour+500*time.Millisecond), "again"); dup != "new" {
		t.Errorf("start within the retention of the newest one forgotten: duplicate of %q, want \"new\"", dup)
	}
	if dup := reserve(t0.Add(500*time.Millisecond), "older"); dup != "" {
		t.Errorf("start older than the retention kept: duplicate of %q", dup)
	}
}
