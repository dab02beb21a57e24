package bolt_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/bolt"
	"github.com/callbridge/callbridge/crmsync/store/storetest"
)

func reopen(t *testing.T, s *bolt.Store, dir string, now *time.Time) *bolt.Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := bolt.Open(dir, bolt.Options{Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func wantState(t *testing.T, s *bolt.Store, id string, want crmsync.JobState) {
	t.Helper()
	if st, err := s.JobState(context.Background(), "hook", id); err != nil || st != want {
		t.Errorf("%s: state %v, %v; want %v", id, st, err, want)
	}
}

func wantRefused(t *testing.T, s *bolt.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if added, err := s.Enqueue(context.Background(), "hook", storetest.Activity(id)); err != nil || added {
			t.Errorf("%s enqueued again: added %v, %v", id, added, err)
		}
	}
}

// The markers are rebuilt from the log at Open: after a restart a
// delivered or queued activity is still refused.
func TestMarkersKeptAcrossRestart(t *testing.T) {
	now := time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	s, err := bolt.Open(dir, bolt.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, s, "a1")
	if _, err := s.Enqueue(context.Background(), "hook", storetest.Activity("a2")); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir, &now)
	wantState(t, s, "a1", crmsync.JobDelivered)
	wantState(t, s, "a2", crmsync.JobQueued)
	wantState(t, s, "a3", crmsync.JobUnknown)
	wantRefused(t, s, "a1", "a2")
	if n := bolt.LogLen(s, "hook"); n != 3 {
		t.Errorf("log holds %d markers, want 3 (a1 enqueued and delivered, a2 enqueued)", n)
	}
}

// A file written before the marker log (testdata/v1-queue.db, made by that
// version: "delivered" acked, "queued" claimed and never acked,
// "retrying" nacked until 18:00, "dead" dead-lettered, a start reserved
// for "delivered") opens with every job and marker: the markers move into
// the log once, at Open.
func TestUpgradeFromMarkerBuckets(t *testing.T) {
	ctx := context.Background()
	old, err := os.ReadFile("testdata/v1-queue.db")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, bolt.FileName), old, 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 17, 30, 0, 0, time.UTC)
	s, err := bolt.Open(dir, bolt.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if n, m := bolt.OldMarkers(s, "hook"), bolt.LogLen(s, "hook"); n != 0 || m != 5 {
		t.Fatalf("after the upgrade: %d markers in the old buckets, %d in the log; want 0 and 5", n, m)
	}
	for i := 0; i < 2; i++ {
		wantState(t, s, "delivered", crmsync.JobDelivered)
		wantState(t, s, "queued", crmsync.JobQueued)
		wantState(t, s, "retrying", crmsync.JobQueued)
		wantState(t, s, "dead", crmsync.JobDead)
		wantRefused(t, s, "delivered", "queued", "retrying", "dead")
		s = reopen(t, s, dir, &now)
	}
	if n := bolt.LogLen(s, "hook"); n != 5 {
		t.Errorf("reopening again: %d markers in the log, want 5", n)
	}
	st, err := s.Stats(ctx)
	if err != nil || len(st) != 1 {
		t.Fatal(st, err)
	}
	if want := (crmsync.QueueStats{Connector: "hook", Ready: 1, Delayed: 1, Dead: 1, Delivered: 1}); st[0] != want {
		t.Errorf("stats %+v, want %+v", st[0], want)
	}
	if dup, err := s.ReserveStart(ctx, crmsync.StartKey{User: "101", Remote: "+358401234567", Start: time.Date(2026, 11, 21, 17, 0, 0, 500_000_000, time.UTC), Margin: time.Second, ID: "twin"}); err != nil || dup != "delivered" {
		t.Errorf("start kept by the earlier version: duplicate of %q, %v", dup, err)
	}
	now = now.Add(time.Hour)
	jobs, err := s.Claim(ctx, crmsync.ClaimRequest{Connector: "hook", Worker: "w", Max: 10, Lease: time.Minute})
	if err != nil || len(jobs) != 2 || jobs[0].Activity.ID != "queued" || !jobs[0].Reclaimed || jobs[1].Activity.ID != "retrying" || jobs[1].Attempt != 1 {
		t.Fatalf("claimed %+v, %v; want queued (reclaimed) and retrying (attempt 1)", jobs, err)
	}
	for _, j := range jobs {
		if err := s.Ack(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	wantState(t, s, "queued", crmsync.JobDelivered)
	// The markers the earlier version wrote age from their own times: a
	// prune a retention after them forgets them, not the later ones.
	if err := s.Prune(time.Date(2026, 11, 21, 17, 30, 0, 0, time.UTC).Add(30 * 24 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantState(t, s, "dead", crmsync.JobDead)
	wantState(t, s, "delivered", crmsync.JobUnknown)
	wantState(t, s, "queued", crmsync.JobDelivered)
}

// A file that went back to an earlier version, which wrote markers into
// the old buckets again (some for ids the log has), gets each marker into
// the log once.
func TestUpgradeAgainAddsNoMarkerTwice(t *testing.T) {
	now := time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	s, err := bolt.Open(dir, bolt.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, s, "a1")
	for _, m := range []struct {
		id        string
		delivered bool
	}{{"a1", false}, {"a1", true}, {"a2", false}, {"a2", true}} {
		if err := bolt.MarkTheOldWay(s, "hook", m.id, m.delivered, now); err != nil {
			t.Fatal(err)
		}
	}
	s = reopen(t, s, dir, &now)
	if n, m := bolt.OldMarkers(s, "hook"), bolt.LogLen(s, "hook"); n != 0 || m != 4 {
		t.Fatalf("%d markers left in the old buckets, %d in the log; want 0 and 4", n, m)
	}
	wantState(t, s, "a2", crmsync.JobDelivered)
	wantRefused(t, s, "a1", "a2")
}

// Prune takes markers from the log as well as the table: an enqueued
// marker stays while its job is queued and goes once the job is dead; a
// delivered one goes a retention after its delivery. A reopen agrees.
func TestPruneTakesMarkersFromTheLog(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	s, err := bolt.Open(dir, bolt.Options{Now: func() time.Time { return now }, MarkerRetention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, s, "gone")
	for _, id := range []string{"waiting", "dies"} {
		if _, err := s.Enqueue(ctx, "hook", storetest.Activity(id)); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(48 * time.Hour)
	if err := s.Prune(now); err != nil {
		t.Fatal(err)
	}
	if n := bolt.LogLen(s, "hook"); n != 2 {
		t.Fatalf("log holds %d markers after the prune, want 2 (the queued jobs')", n)
	}
	jobs, err := s.Claim(ctx, crmsync.ClaimRequest{Connector: "hook", Worker: "w", Max: 2, Lease: time.Minute})
	if err != nil || len(jobs) != 2 || jobs[1].Activity.ID != "dies" {
		t.Fatal(jobs, err)
	}
	if err := s.DeadLetter(ctx, jobs[1], "400"); err != nil {
		t.Fatal(err)
	}
	if err := s.Prune(now); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if n := bolt.LogLen(s, "hook"); n != 1 {
			t.Errorf("log holds %d markers, want 1 (waiting's)", n)
		}
		wantState(t, s, "gone", crmsync.JobUnknown)
		wantState(t, s, "waiting", crmsync.JobQueued)
		wantRefused(t, s, "waiting")
		s = reopen(t, s, dir, &now)
	}
	if added, err := s.Enqueue(ctx, "hook", storetest.Activity("gone")); err != nil || !added {
		t.Errorf("gone after the retention: added %v, %v; want it enqueued again", added, err)
	}
}

// A commit that fails leaves the marker table as the file is: the
// activity it would have enqueued is not refused afterwards, and an ack
// that did not land leaves the job queued.
func TestFailedCommitLeavesMarkersAsTheFile(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC)
	s := openWithClock(t, &now, 0)
	broken := errors.New("disk full")
	fail := true
	bolt.FailCommit(s, func() error {
		if fail {
			return broken
		}
		return nil
	})
	if _, err := s.Enqueue(ctx, "hook", storetest.Activity("a1")); !errors.Is(err, broken) {
		t.Fatalf("enqueue with the commit failing: %v", err)
	}
	wantState(t, s, "a1", crmsync.JobUnknown)
	fail = false
	if added, err := s.Enqueue(ctx, "hook", storetest.Activity("a1")); err != nil || !added {
		t.Fatalf("enqueue after the failed commit: added %v, %v", added, err)
	}
	jobs, err := s.Claim(ctx, crmsync.ClaimRequest{Connector: "hook", Worker: "w", Max: 1, Lease: time.Minute})
	if err != nil || len(jobs) != 1 {
		t.Fatal(jobs, err)
	}
	fail = true
	if err := s.Ack(ctx, jobs[0]); !errors.Is(err, broken) {
		t.Fatalf("ack with the commit failing: %v", err)
	}
	wantState(t, s, "a1", crmsync.JobQueued)
	fail = false
	if err := s.Ack(ctx, jobs[0]); err != nil {
		t.Fatal(err)
	}
	wantState(t, s, "a1", crmsync.JobDelivered)
	if n := bolt.LogLen(s, "hook"); n != 2 {
		t.Errorf("log holds %d markers, want 2", n)
	}
}
