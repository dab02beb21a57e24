package bolt_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/bolt"
	"github.com/callbridge/callbridge/crmsync/store/storetest"
)

// Enqueues asked for while a commit is on its way share the next one, and
// none returns before the commit that holds it.
func TestConcurrentEnqueuesShareACommit(t *testing.T) {
	s, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 50
	hold, held := make(chan struct{}), make(chan struct{})
	var once sync.Once
	bolt.BeforeCommit(s, func() {
		once.Do(func() { close(held); <-hold }) // the first commit waits
	})
	before := bolt.Commits(s)
	returned := make(chan string, n)
	enqueue := func(id string) {
		if _, err := s.Enqueue(context.Background(), "hook", storetest.Activity(id)); err != nil {
			t.Error(err)
		}
		returned <- id
	}
	go enqueue("first")
	<-held
	for i := range n - 1 {
		go enqueue(fmt.Sprint(i))
	}
	for bolt.Pending(s) < n-1 {
		time.Sleep(time.Millisecond)
	}
	select {
	case id := <-returned:
		t.Fatalf("Enqueue of %s returned before its commit", id)
	default:
	}
	close(hold)
	for range n {
		<-returned
	}
	if got := bolt.Commits(s) - before; got != 2 {
		t.Errorf("%d enqueues took %d commits, want 2 (the first alone, the rest together)", n, got)
	}
	for i := range n - 1 {
		if st, err := s.JobState(context.Background(), "hook", fmt.Sprint(i)); err != nil || st != crmsync.JobQueued {
			t.Errorf("job %d: %v, %v; want queued", i, st, err)
		}
	}
}

// A change whose transaction fails for it alone gets its own error, and
// the changes it shared the transaction with are committed.
func TestFailedChangeLeavesItsBatch(t *testing.T) {
	s, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Enqueue(ctx, "hook", storetest.Activity("a")); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.Claim(ctx, crmsync.ClaimRequest{Connector: "hook", Worker: "w", Max: 1, Lease: time.Minute})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v, %v", jobs, err)
	}
	stale := jobs[0]
	stale.Handle = "00" // not the lease it holds: Nack fails with ErrLeaseLost
	hold, held := make(chan struct{}), make(chan struct{})
	var once sync.Once
	bolt.BeforeCommit(s, func() { once.Do(func() { close(held); <-hold }) })
	errs := make(chan error, 3)
	go func() { _, err := s.Enqueue(ctx, "hook", storetest.Activity("first")); errs <- err }()
	<-held
	go func() { errs <- s.Nack(ctx, stale, time.Now(), "x") }()
	go func() { _, err := s.Enqueue(ctx, "hook", storetest.Activity("b")); errs <- err }()
	for bolt.Pending(s) < 2 {
		time.Sleep(time.Millisecond)
	}
	close(hold)
	var lost, ok int
	for range 3 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case err == crmsync.ErrLeaseLost:
			lost++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if lost != 1 || ok != 2 {
		t.Errorf("%d ErrLeaseLost, %d ok; want 1 and 2", lost, ok)
	}
	if st, _ := s.JobState(ctx, "hook", "b"); st != crmsync.JobQueued {
		t.Errorf("job b is %v after sharing a transaction with a failed Nack, want queued", st)
	}
}

// A process killed at any moment keeps every job whose Enqueue returned:
// the child enqueues from several goroutines and prints each id once
// Enqueue returned; the parent kills it and finds every printed id queued.
func TestKillAfterEnqueueLosesNothing(t *testing.T) {
	if dir := os.Getenv("BOLT_KILL_CHILD_DIR"); dir != "" {
		killChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillAfterEnqueueLosesNothing$")
	cmd.Env = append(os.Environ(), "BOLT_KILL_CHILD_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(ids) < 300 {
		if id, ok := strings.CutPrefix(sc.Text(), "enqueued "); ok {
			ids = append(ids, id)
		}
	}
	cmd.Process.Kill()
	for sc.Scan() { // what the pipe still holds returned before the kill too
		if id, ok := strings.CutPrefix(sc.Text(), "enqueued "); ok {
			ids = append(ids, id)
		}
	}
	cmd.Wait()
	if len(ids) < 300 {
		t.Fatalf("the child enqueued only %d jobs before it ended", len(ids))
	}
	s, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range ids {
		if st, err := s.JobState(context.Background(), "hook", id); err != nil || st != crmsync.JobQueued {
			t.Errorf("job %s: %v, %v after the kill; its Enqueue had returned", id, st, err)
		}
	}
}

func killChild(dir string) {
	s, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	for g := range 8 {
		go func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("%d-%d", g, i)
				if _, err := s.Enqueue(context.Background(), "hook", storetest.Activity(id)); err != nil {
					fmt.Println("enqueue:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Println("enqueued", id)
				mu.Unlock()
			}
		}()
	}
	select {}
}

// A batch of the intake's changes is one transaction, however many.
func TestBatchIsOneCommit(t *testing.T) {
	s, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var jobs []crmsync.NewJob
	var keys []crmsync.StartKey
	for i := range 20 {
		a := storetest.Activity(fmt.Sprint("b", i))
		jobs = append(jobs, crmsync.NewJob{Connector: "hook", Job: crmsync.Job{Activity: a}})
		keys = append(keys, crmsync.StartKey{User: a.User, Remote: a.RemoteE164, Start: a.StartedAt.Add(time.Duration(i) * time.Minute), ID: a.ID})
	}
	before := bolt.Commits(s)
	if _, err := s.ReserveStarts(ctx, keys); err != nil {
		t.Fatal(err)
	}
	if got := bolt.Commits(s) - before; got != 1 {
		t.Fatalf("20 reservations took %d commits, want 1", got)
	}
	if _, err := s.EnqueueJobs(ctx, jobs); err != nil {
		t.Fatal(err)
	}
	if got := bolt.Commits(s) - before; got != 2 {
		t.Fatalf("20 enqueues took %d more commits, want 1", got-1)
	}
}

// A batch's start-margin checks and the enqueues of what passes them are
// one transaction.
func TestAdmitIsOneCommit(t *testing.T) {
	s, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var keys []crmsync.StartKey
	var jobs [][]crmsync.NewJob
	for i := range 10 {
		a := storetest.Activity(fmt.Sprint("m", i))
		keys = append(keys, crmsync.StartKey{User: a.User, Remote: a.RemoteE164, Start: a.StartedAt.Add(time.Duration(i) * time.Minute), ID: a.ID})
		jobs = append(jobs, []crmsync.NewJob{{Connector: "hook", Job: crmsync.Job{Activity: a}}})
	}
	before := bolt.Commits(s)
	if _, err := s.Admit(context.Background(), keys, jobs); err != nil {
		t.Fatal(err)
	}
	if got := bolt.Commits(s) - before; got != 1 {
		t.Fatalf("10 activities admitted in %d commits, want 1", got)
	}
}

// claimOne enqueues id and claims it.
func claimOne(t *testing.T, s *bolt.Store, id string) crmsync.Job {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Enqueue(ctx, "hook", storetest.Activity(id)); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.Claim(ctx, crmsync.ClaimRequest{Connector: "hook", Worker: "w", Max: 1, Lease: time.Minute})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim %s: %v, %v", id, jobs, err)
	}
	return jobs[0]
}

// An Ack waits for company: the next change that may not wait commits it
// too, in one commit, and it returns only then.
func TestAckSharesTheNextEnqueuesCommit(t *testing.T) {
	s, err := bolt.Open(t.TempDir(), bolt.Options{AckLinger: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	j := claimOne(t, s, "a")
	before := bolt.Commits(s)
	acked := make(chan error, 1)
	go func() { acked <- s.Ack(ctx, j) }()
	for bolt.Pending(s) < 1 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-acked:
		t.Fatalf("Ack returned (%v) before any commit took it", err)
	default:
	}
	if _, err := s.Enqueue(ctx, "hook", storetest.Activity("b")); err != nil {
		t.Fatal(err)
	}
	if err := <-acked; err != nil {
		t.Fatal(err)
	}
	if got := bolt.Commits(s) - before; got != 1 {
		t.Errorf("an Ack and an Enqueue took %d commits, want 1", got)
	}
	if st, _ := s.JobState(ctx, "hook", "a"); st != crmsync.JobDelivered {
		t.Errorf("a: %v, want delivered", st)
	}
}

// A lone Ack commits by itself once the linger is up; Close commits a
// waiting one at once.
func TestLoneAckCommitsAfterTheLinger(t *testing.T) {
	ctx := context.Background()
	s, err := bolt.Open(t.TempDir(), bolt.Options{AckLinger: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ack(ctx, claimOne(t, s, "a")); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.JobState(ctx, "hook", "a"); st != crmsync.JobDelivered {
		t.Errorf("a: %v, want delivered", st)
	}

	dir := t.TempDir()
	s2, err := bolt.Open(dir, bolt.Options{AckLinger: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	j := claimOne(t, s2, "b")
	acked := make(chan error, 1)
	go func() { acked <- s2.Ack(ctx, j) }()
	for bolt.Pending(s2) < 1 {
		time.Sleep(time.Millisecond)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-acked; err != nil {
		t.Fatalf("Ack waiting at Close: %v", err)
	}
	s3, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if st, _ := s3.JobState(ctx, "hook", "b"); st != crmsync.JobDelivered {
		t.Errorf("b after Close and Open: %v, want delivered", st)
	}
}

// Acks that fill a batch commit at once, whatever is left of the linger:
// the dispatcher's workers wait for their outcomes once they have
// crmsync's settleBound of them in flight, so a batch must not sit out a
// linger sized for a trickle.
func TestAFullBatchOfAcksCommitsAtOnce(t *testing.T) {
	s, err := bolt.Open(t.TempDir(), bolt.Options{AckLinger: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	jobs := make([]crmsync.Job, bolt.AckBatch)
	for i := range jobs {
		jobs[i] = claimOne(t, s, fmt.Sprint("a", i))
	}
	before := bolt.Commits(s)
	acked := make(chan error, len(jobs))
	for _, j := range jobs[:len(jobs)-1] {
		go func() { acked <- s.Ack(ctx, j) }()
	}
	for bolt.Pending(s) < len(jobs)-1 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if got := bolt.Commits(s) - before; got != 0 {
		t.Fatalf("%d acks, one short of a batch, took %d commits before the linger, want 0", len(jobs)-1, got)
	}
	go func() { acked <- s.Ack(ctx, jobs[len(jobs)-1]) }()
	for range jobs {
		select {
		case err := <-acked:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a full batch of acks is still waiting for the linger")
		}
	}
	for _, j := range jobs {
		if st, _ := s.JobState(ctx, "hook", j.ID()); st != crmsync.JobDelivered {
			t.Fatalf("%s: %v, want delivered", j.ID(), st)
		}
	}
}
