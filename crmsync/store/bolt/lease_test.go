package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/bolt"
	"github.com/callbridge/callbridge/crmsync/store/storetest"
)

// clock is a store clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 21, 16, 30, 0, 0, time.UTC)} }

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func openAt(t *testing.T, dir string, clk *clock) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(dir, bolt.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func claimN(t *testing.T, s *bolt.Store, n int, lease time.Duration) []crmsync.Job {
	t.Helper()
	jobs, err := s.Claim(context.Background(), crmsync.ClaimRequest{Connector: "hook", Worker: "w", Max: n, Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

func ids(jobs []crmsync.Job) string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.ID())
	}
	return fmt.Sprint(out)
}

func hookStats(t *testing.T, s *bolt.Store) crmsync.QueueStats {
	t.Helper()
	sts, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if st.Connector == "hook" {
			return st
		}
	}
	return crmsync.QueueStats{Connector: "hook"}
}

// A claim that only leases writes nothing: no transaction, no fsync. Acks
// and due retries still do.
func TestClaimThatOnlyLeasesCommitsNothing(t *testing.T) {
	clk := newClock()
	s := openAt(t, t.TempDir(), clk)
	ctx := context.Background()
	for i := range 6 {
		if _, err := s.Enqueue(ctx, "hook", storetest.Activity(fmt.Sprint("o", i))); err != nil {
			t.Fatal(err)
		}
	}
	claimN(t, s, 1, time.Minute) // the first claim of a process prunes: a commit of its own
	before := bolt.Commits(s)
	got := claimN(t, s, 3, time.Minute)
	if ids(got) != "[o1 o2 o3]" {
		t.Fatalf("claimed %s, want [o1 o2 o3]", ids(got))
	}
	if rest := claimN(t, s, 10, time.Minute); ids(rest) != "[o4 o5]" {
		t.Fatalf("then claimed %s, want [o4 o5]", ids(rest))
	}
	if none := claimN(t, s, 10, time.Minute); len(none) != 0 {
		t.Fatalf("everything is leased, yet claimed %s", ids(none))
	}
	if n := bolt.Commits(s) - before; n != 0 {
		t.Errorf("three claims that only leased committed %d transactions, want none", n)
	}
	if st := hookStats(t, s); st.InFlight != 6 || st.Ready != 0 {
		t.Errorf("stats %+v, want 6 in flight and none ready", st)
	}
	if err := s.Ack(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Nack(ctx, got[1], clk.now(), "HTTP 503"); err != nil {
		t.Fatal(err)
	}
	if n := bolt.Commits(s) - before; n != 2 {
		t.Errorf("an Ack and a Nack committed %d transactions, want 2", n)
	}
	// The retry is due: moving it to ready is a write.
	if again := claimN(t, s, 10, time.Minute); ids(again) != "[o2]" || again[0].Attempt != 1 {
		t.Fatalf("after the Nack claimed %+v, want o2 on its second attempt", again)
	}
	if n := bolt.Commits(s) - before; n != 3 {
		t.Errorf("the claim of a due retry made %d commits in all, want 3", n)
	}
}

// Leases end with the process: after a reopen, the jobs leased before are
// ready at once, marked reclaimed, and the old handles hold nothing.
func TestLeasesVanishAtReopen(t *testing.T) {
	clk, dir := newClock(), t.TempDir()
	ctx := context.Background()
	s := openAt(t, dir, clk)
	for _, id := range []string{"a", "b"} {
		if _, err := s.Enqueue(ctx, "hook", storetest.Activity(id)); err != nil {
			t.Fatal(err)
		}
	}
	old := claimN(t, s, 2, time.Hour)
	if ids(old) != "[a b]" || old[0].Reclaimed {
		t.Fatalf("claimed %+v", old)
	}
	s.Close()

	s2 := openAt(t, dir, clk) // the same instant: no lease has run out
	if st := hookStats(t, s2); st.Ready != 2 || st.InFlight != 0 {
		t.Errorf("after the reopen: stats %+v, want 2 ready, none in flight", st)
	}
	got := claimN(t, s2, 10, time.Hour)
	if ids(got) != "[a b]" || !got[0].Reclaimed || !got[1].Reclaimed {
		t.Fatalf("after the reopen claimed %+v, want a and b again, reclaimed", got)
	}
	if _, err := s2.Enqueue(ctx, "hook", storetest.Activity("c")); err != nil {
		t.Fatal(err)
	}
	if c := claimN(t, s2, 10, time.Hour); ids(c) != "[c]" || c[0].Reclaimed {
		t.Fatalf("claimed %+v, want c, not reclaimed (it was enqueued by this process)", c)
	}
	if err := s2.Nack(ctx, old[0], clk.now(), "late"); !errors.Is(err, crmsync.ErrLeaseLost) {
		t.Errorf("Nack with a handle of the process before: %v, want ErrLeaseLost", err)
	}
	if st := hookStats(t, s2); st.Ready != 0 || st.InFlight != 3 {
		t.Errorf("stats %+v, want 3 in flight", st)
	}
	// The push of the process before succeeded after all: its Ack counts,
	// and the new lease on the job is gone with it.
	if err := s2.Ack(ctx, old[0]); err != nil {
		t.Fatal(err)
	}
	if err := s2.Nack(ctx, got[0], clk.now(), "x"); !errors.Is(err, crmsync.ErrLeaseLost) {
		t.Errorf("Nack of a job acked meanwhile: %v, want ErrLeaseLost", err)
	}
	if st := hookStats(t, s2); st.InFlight != 2 || st.Delivered != 1 {
		t.Errorf("stats %+v, want 2 in flight, 1 delivered", st)
	}
}

// A file written by a version that kept leases in it (the leased bucket)
// loses nothing: its leased jobs are ready again at Open, in their places.
func TestUpgradeFromLeasedBucket(t *testing.T) {
	clk, dir := newClock(), t.TempDir()
	ctx := context.Background()
	s := openAt(t, dir, clk)
	for i := range 5 {
		if _, err := s.Enqueue(ctx, "hook", storetest.Activity(fmt.Sprint("j", i))); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := bolt.ClaimTheOldWay(s, "hook", "old-worker", 3, time.Hour); err != nil || n != 3 {
		t.Fatalf("old claim: %d, %v", n, err)
	}
	if n := bolt.Leased(s, "hook"); n != 3 {
		t.Fatalf("the old claim left %d jobs in the leased bucket, want 3", n)
	}
	s.Close()

	s2 := openAt(t, dir, clk)
	if n := bolt.Leased(s2, "hook"); n != 0 {
		t.Errorf("after Open the leased bucket holds %d jobs, want none", n)
	}
	if st := hookStats(t, s2); st.Ready != 5 || st.InFlight != 0 {
		t.Errorf("after the upgrade: stats %+v, want 5 ready", st)
	}
	for i := range 5 {
		if st, err := s2.JobState(ctx, "hook", fmt.Sprint("j", i)); err != nil || st != crmsync.JobQueued {
			t.Errorf("j%d: %v, %v; want queued", i, st, err)
		}
	}
	got := claimN(t, s2, 10, time.Minute)
	if ids(got) != "[j0 j1 j2 j3 j4]" {
		t.Fatalf("after the upgrade claimed %s, want all five, oldest first", ids(got))
	}
	for _, j := range got[:3] {
		if !j.Reclaimed {
			t.Errorf("%s was leased by the process before, yet not marked reclaimed", j.ID())
		}
	}
	if err := s2.Nack(ctx, got[0], clk.now().Add(time.Hour), "HTTP 503"); err != nil {
		t.Fatal(err)
	}
	for _, j := range got[1:] {
		if err := s2.Ack(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	if st := hookStats(t, s2); st != (crmsync.QueueStats{Connector: "hook", Delayed: 1, Delivered: 4}) {
		t.Errorf("stats %+v, want 1 delayed, 4 delivered", st)
	}
	s2.Close()
	s3 := openAt(t, dir, clk)
	if again, err := s3.Enqueue(ctx, "hook", storetest.Activity("j1")); err != nil || again {
		t.Errorf("an acked upgraded job enqueued again: %v, %v", again, err)
	}
	if left := claimN(t, s3, 10, time.Minute); len(left) != 0 {
		t.Errorf("claimed %s: the acked jobs again, or the retry an hour early", ids(left))
	}
}

// A Nack being committed holds its lease: a lease running out meanwhile is
// not taken over, so the job is not handed out while it moves to a retry.
func TestNackBeingCommittedIsNotTakenOver(t *testing.T) {
	clk := newClock()
	s := openAt(t, t.TempDir(), clk)
	ctx := context.Background()
	var armed atomic.Bool
	hold, held := make(chan struct{}), make(chan struct{})
	var once sync.Once
	bolt.BeforeCommit(s, func() {
		if armed.Load() {
			once.Do(func() { close(held); <-hold })
		}
	})
	if _, err := s.Enqueue(ctx, "hook", storetest.Activity("n")); err != nil {
		t.Fatal(err)
	}
	j := claimN(t, s, 1, time.Minute)
	if len(j) != 1 {
		t.Fatal("nothing claimed")
	}
	armed.Store(true)
	nacked := make(chan error, 1)
	go func() { nacked <- s.Nack(ctx, j[0], clk.now().Add(time.Hour), "HTTP 503") }()
	<-held
	clk.advance(2 * time.Minute) // the lease ran out while the Nack commits
	if got := claimN(t, s, 1, time.Minute); len(got) != 0 {
		t.Errorf("the job was handed out again while its Nack was being committed: %+v", got)
	}
	close(hold)
	if err := <-nacked; err != nil {
		t.Fatal(err)
	}
	if got := claimN(t, s, 1, time.Minute); len(got) != 0 {
		t.Errorf("claimed %+v, an hour before its retry", got)
	}
	if st := hookStats(t, s); st.Delayed != 1 || st.InFlight != 0 || st.Ready != 0 {
		t.Errorf("stats %+v, want 1 delayed", st)
	}
}
