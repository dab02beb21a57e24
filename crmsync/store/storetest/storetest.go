package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
)

// Harness makes stores for the suite.
type Harness struct {
	// New returns an empty store whose clock is now, closed by the
	// test's cleanup.
	New func(t *testing.T, now func() time.Time) crmsync.Store
	// Reopen returns a store on the same data as s, with s's clock. When
	// Shared is false it closes s first (a restart); when true both stay
	// usable (two instances on one backend).
	Reopen func(t *testing.T, s crmsync.Store) crmsync.Store
	Shared bool
}

// yearsAhead is how far the second run of the suite sets the store's
// clock: a store that ages records by the wall clock instead of the
// activities' own times fails there at once, not on some later day.
const yearsAhead = 30

// Run runs the suite twice: with the real clock, and with the store's
// clock set years ahead of the activities' dates.
func Run(t *testing.T, h Harness) {
	t.Run("Today", func(t *testing.T) { run(t, h, time.Now) })
	t.Run("YearsAhead", func(t *testing.T) {
		run(t, h, func() time.Time { return time.Now().AddDate(yearsAhead, 0, 0) })
	})
}

// Activity returns a test activity with id.
func Activity(id string) bridge.Activity {
	start := time.Date(2026, 11, 21, 16, 11, 10, 9_000_000, time.UTC)
	return bridge.Activity{
		ID: id, CallID: "1763741470." + id, User: "101", LocalNumber: "101",
		Direction: bridge.Inbound, State: bridge.Connected, Reason: bridge.ReasonAnswered,
		RemoteNumber: "+358401234567", RemoteE164: "+358401234567", DDI: "+35850111222",
		StartedAt: start, AnsweredAt: start.Add(2 * time.Second), EndedAt: start.Add(4 * time.Second),
		RingSeconds: 2, TalkSeconds: 2, Privacy: bridge.PrivacyWork, Source: "ari",
	}
}

func req(conn, worker string, n int, lease time.Duration) crmsync.ClaimRequest {
	return crmsync.ClaimRequest{Connector: conn, Worker: worker, Max: n, Lease: lease}
}

// must(f())(t) fails t if f failed, else returns f's value.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func stats(t *testing.T, s crmsync.Store, conn string) crmsync.QueueStats {
	t.Helper()
	for _, st := range must(s.Stats(context.Background()))(t) {
		if st.Connector == conn {
			return st
		}
	}
	return crmsync.QueueStats{Connector: conn}
}

func wantStats(t *testing.T, s crmsync.Store, want crmsync.QueueStats) {
	t.Helper()
	if got := stats(t, s, want.Connector); got != want {
		t.Errorf("stats:\n got %+v\nwant %+v", got, want)
	}
}

func run(t *testing.T, h Harness, now func() time.Time) {
	ctx := context.Background()
	const long = time.Minute

	t.Run("EnqueueIdempotent", func(t *testing.T) {
		s := h.New(t, now)
		a := Activity("a1")
		if !must(s.Enqueue(ctx, "hook", a))(t) {
			t.Fatal("first enqueue not added")
		}
		if must(s.Enqueue(ctx, "hook", a))(t) {
			t.Fatal("second enqueue added")
		}
		// Another connector has its own queue.
		if !must(s.Enqueue(ctx, "other", a))(t) {
			t.Fatal("enqueue for another connector not added")
		}
		jobs := must(s.Claim(ctx, req("hook", "w1", 10, long)))(t)
		if len(jobs) != 1 || jobs[0].Activity.ID != "a1" || jobs[0].Attempt != 0 || jobs[0].Reclaimed {
			t.Fatalf("claimed %+v", jobs)
		}
		if jobs[0].Activity.StartedAt != a.StartedAt || jobs[0].Activity.RemoteNumber != a.RemoteNumber {
			t.Fatalf("activity changed in the queue: %+v", jobs[0].Activity)
		}
		if err := s.Ack(ctx, jobs[0]); err != nil {
			t.Fatal(err)
		}
		if must(s.Enqueue(ctx, "hook", a))(t) {
			t.Fatal("delivered activity enqueued again")
		}
		if _, err := s.Enqueue(ctx, "hook", bridge.Activity{}); err == nil {
			t.Fatal("activity without id accepted")
		}
		wantStats(t, s, crmsync.QueueStats{Connector: "hook", Delivered: 1})
		wantStats(t, s, crmsync.QueueStats{Connector: "other", Ready: 1})
	})

	t.Run("ClaimInOrderAndAck", func(t *testing.T) {
		s := h.New(t, now)
		for i := range 5 {
			must(s.Enqueue(ctx, "hook", Activity(fmt.Sprint("o", i))))(t)
		}
		a := must(s.Claim(ctx, req("hook", "w1", 3, long)))(t)
		b := must(s.Claim(ctx, req("hook", "w2", 3, long)))(t)
		c := must(s.Claim(ctx, req("hook", "w3", 3, long)))(t)
		if len(a) != 3 || len(b) != 2 || len(c) != 0 {
			t.Fatalf("claimed %d, %d, %d; want 3, 2, 0", len(a), len(b), len(c))
		}
		for i, j := range append(a, b...) {
			if want := fmt.Sprint("o", i); j.Activity.ID != want {
				t.Errorf("job %d is %s, want %s (first in, first out)", i, j.Activity.ID, want)
			}
		}
		wantStats(t, s, crmsync.QueueStats{Connector: "hook", InFlight: 5})
		for _, j := range append(a, b...) {
			if err := s.Ack(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
		wantStats(t, s, crmsync.QueueStats{Connector: "hook", Delivered: 5})
	})

	t.Run("LeaseTakeover", func(t *testing.T) {
		s := h.New(t, now)
		must(s.Enqueue(ctx, "hook", Activity("l1")))(t)
		lease := 300 * time.Millisecond
		first := must(s.Claim(ctx, req("hook", "w1", 1, lease)))(t)
		if len(first) != 1 {
			t.Fatalf("claimed %d", len(first))
		}
		if got := must(s.Claim(ctx, req("hook", "w2", 1, lease)))(t); len(got) != 0 {
			t.Fatalf("leased job claimed again at once: %+v", got)
		}
		var second []crmsync.Job
		for deadline := time.Now().Add(5 * time.Second); len(second) == 0 && time.Now().Before(deadline); {
			time.Sleep(lease / 3)
			second = must(s.Claim(ctx, req("hook", "w2", 1, long)))(t)
		}
		if len(second) != 1 || !second[0].Reclaimed || second[0].Activity.ID != "l1" {
			t.Fatalf("after the lease ran out w2 claimed %+v", second)
		}
		if err := s.Nack(ctx, first[0], now(), "late"); !errors.Is(err, crmsync.ErrLeaseLost) {
			t.Fatalf("nack by the old holder: %v, want ErrLeaseLost", err)
		}
		if err := s.DeadLetter(ctx, first[0], "late"); !errors.Is(err, crmsync.ErrLeaseLost) {
			t.Fatalf("dead letter by the old holder: %v, want ErrLeaseLost", err)
		}
		// The old holder's push succeeded after all: its ack counts.
		if err := s.Ack(ctx, first[0]); err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(ctx, second[0]); err != nil {
			t.Fatalf("second ack: %v", err)
		}
		wantStats(t, s, crmsync.QueueStats{Connector: "hook", Delivered: 1})
		if got := must(s.Claim(ctx, req("hook", "w3", 1, lease)))(t); len(got) != 0 {
			t.Fatalf("delivered job claimed: %+v", got)
		}
	})

	t.Run("AckedElsewhereIsNotRedelivered", func(t *testing.T) {
		s := h.New(t, now)
		must(s.Enqueue(ctx, "hook", Activity("x1")))(t)
		lease := 200 * time.Millisecond
		first := must(s.Claim(ctx, req("hook", "w1", 1, lease)))(t)
		var second []crmsync.Job
		for deadline := time.Now().Add(5 * time.Second); len(second) == 0 && time.Now().Before(deadline); {
			time.Sleep(lease / 2)
			second = must(s.Claim(ctx, req("hook", "w2", 1, long)))(t)
		}
		if len(first) != 1 || len(second) != 1 {
			t.Fatalf("claims: %d, %d", len(first), len(second))
		}
		// w2 fails and schedules a retry; w1's push had succeeded.
		if err := s.Nack(ctx, second[0], now(), "HTTP 503"); err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(ctx, first[0]); err != nil {
			t.Fatal(err)
		}
		if got := must(s.Claim(ctx, req("hook", "w3", 1, long)))(t); len(got) != 0 {
			t.Fatalf("delivered activity handed out again: %+v", got)
		}
	})

	t.Run("NackRetryAt", func(t *testing.T) {
		s := h.New(t, now)
		must(s.Enqueue(ctx, "hook", Activity("n1")))(t)
		j := must(s.Claim(ctx, req("hook", "w1", 1, long)))(t)[0]
		if err := s.Nack(ctx, j, now().Add(400*time.Millisecond), "HTTP 503"); err != nil {
			t.Fatal(err)
		}
		wantStats(t, s, crmsync.QueueStats{Connector: "hook", Delayed: 1})
		if got := must(s.Claim(ctx, req("hook", "w1", 1, long)))(t); len(got) != 0 {
			t.Fatalf("claimed before its retry time: %+v", got)
		}
		var got []crmsync.Job
		for deadline := time.Now().Add(5 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
			r := req("hook", "w1", 1, long)
			r.Wait = 200 * time.Millisecond
			got = must(s.Claim(ctx, r))(t)
		}
		if len(got) != 1 || got[0].Attempt != 1 || got[0].LastError != "HTTP 503" || got[0].Activity.ID != "n1" {
			t.Fatalf("after the retry time claimed %+v", got)
		}
		if !got[0].EnqueuedAt.Equal(j.EnqueuedAt) {
			t.Errorf("enqueued time changed: %v -> %v", j.EnqueuedAt, got[0].EnqueuedAt)
		}
	})

	t.Run("ClaimWaitsForWork", func(t *testing.T) {
		s := h.New(t, now)
		must(s.Enqueue(ctx, "hook", Activity("warm")))(t) // the queue exists
		must(s.Claim(ctx, req("hook", "w1", 1, long)))(t)
		done := make(chan []crmsync.Job)
		go func() {
			r := req("hook", "w1", 1, long)
			r.Wait = 3 * time.Second
			jobs, _ := s.Claim(ctx, r)
			done <- jobs
		}()
		time.Sleep(50 * time.Millisecond)
		must(s.Enqueue(ctx, "hook", Activity("w1")))(t)
		if jobs := <-done; len(jobs) != 1 || jobs[0].Activity.ID != "w1" {
			// A store may return empty after Wait; then the job must
			// still be there.
			if len(jobs) == 0 && len(must(s.Claim(ctx, req("hook", "w1", 1, long)))(t)) == 1 {
				return
			}
			t.Fatalf("waiting claim got %+v", jobs)
		}
	})

	t.Run("DeadLetters", func(t *testing.T) {
		s := h.New(t, now)
		for _, id := range []string{"d1", "d2", "d3"} {
			must(s.Enqueue(ctx, "hook", Activity(id)))(t)
		}
		must(s.Enqueue(ctx, "other", Activity("d1")))(t)
		for _, conn := range []string{"hook", "other"} {
			for _, j := range must(s.Claim(ctx, req(conn, "w1", 10, long)))(t) {
				if err := s.DeadLetter(ctx, j, "HTTP 422: unknown field"); err != nil {
					t.Fatal(err)
				}
			}
		}
		dead := must(s.DeadLetters(ctx, "", 0))(t)
		if len(dead) != 4 {
			t.Fatalf("dead letters: %+v", dead)
		}
		for _, d := range dead {
			if d.Reason != "HTTP 422: unknown field" || d.Attempts != 1 || d.DiedAt.IsZero() || d.Activity.User != "101" {
				t.Errorf("dead letter %+v", d)
			}
		}
		if got := must(s.DeadLetters(ctx, "hook", 2))(t); len(got) != 2 || got[0].Connector != "hook" {
			t.Errorf("limited list: %+v", got)
		}
		wantStats(t, s, crmsync.QueueStats{Connector: "hook", Dead: 3})
		if must(s.Enqueue(ctx, "hook", Activity("d1")))(t) {
			t.Error("dead activity enqueued again")
		}
		if err := s.Retry(ctx, "nope"); !errors.Is(err, crmsync.ErrNotFound) {
			t.Errorf("retry of unknown id: %v", err)
		}
		// Retry by id requeues it for every connector where it is dead.
		if err := s.Retry(ctx, "d1"); err != nil {
			t.Fatal(err)
		}
		for _, conn := range []string{"hook", "other"} {
			jobs := must(s.Claim(ctx, req(conn, "w1", 10, long)))(t)
			if len(jobs) != 1 || jobs[0].Activity.ID != "d1" || jobs[0].Attempt != 0 {
				t.Fatalf("%s after retry: %+v", conn, jobs)
			}
			if err := s.Ack(ctx, jobs[0]); err != nil {
				t.Fatal(err)
			}
		}
		if n := must(s.RetryAll(ctx, "hook"))(t); n != 2 {
			t.Errorf("RetryAll = %d, want 2", n)
		}
		jobs := must(s.Claim(ctx, req("hook", "w1", 10, long)))(t)
		if len(jobs) != 2 {
			t.Fatalf("after RetryAll claimed %d", len(jobs))
		}
		for _, j := range jobs {
			if err := s.DeadLetter(ctx, j, "HTTP 400"); err != nil {
				t.Fatal(err)
			}
		}
		if n := must(s.Purge(ctx, ""))(t); n != 2 {
			t.Errorf("Purge = %d, want 2", n)
		}
		if got := must(s.DeadLetters(ctx, "", 0))(t); len(got) != 0 {
			t.Errorf("after purge: %+v", got)
		}
		if must(s.Enqueue(ctx, "hook", Activity("d2")))(t) {
			t.Error("purged activity enqueued again")
		}
		wantStats(t, s, crmsync.QueueStats{Connector: "hook", Delivered: 1})
	})

	t.Run("NoJobHandedOutTwice", func(t *testing.T) {
		s := h.New(t, now)
		const n = 200
		for i := range n {
			must(s.Enqueue(ctx, "hook", Activity(fmt.Sprint("c", i))))(t)
		}
		others := []crmsync.Store{s, s, s, s}
		if h.Shared {
			others[2] = h.Reopen(t, s)
			others[3] = h.Reopen(t, s)
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for w, st := range others {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					jobs, err := st.Claim(ctx, req("hook", fmt.Sprint("w", w), 7, long))
					if err != nil {
						t.Error(err)
						return
					}
					if len(jobs) == 0 {
						return
					}
					for _, j := range jobs {
						mu.Lock()
						seen[j.Activity.ID]++
						mu.Unlock()
						if err := st.Ack(ctx, j); err != nil {
							t.Error(err)
						}
					}
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Errorf("%d distinct jobs claimed, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("%s claimed %d times", id, c)
			}
		}
		wantStats(t, s, crmsync.QueueStats{Connector: "hook", Delivered: n})
	})

	t.Run("Durable", func(t *testing.T) {
		s := h.New(t, now)
		must(s.Enqueue(ctx, "hook", Activity("p1")))(t)
		must(s.Enqueue(ctx, "hook", Activity("p2")))(t)
		j := must(s.Claim(ctx, req("hook", "w1", 1, 200*time.Millisecond)))(t)
		if len(j) != 1 {
			t.Fatal("nothing claimed")
		}
		// The holder "crashes": no ack. After a restart the job is back.
		s2 := h.Reopen(t, s)
		var ids []string
		for deadline := time.Now().Add(5 * time.Second); len(ids) < 2 && time.Now().Before(deadline); {
			for _, j := range must(s2.Claim(ctx, req("hook", "w9", 10, long)))(t) {
				ids = append(ids, j.Activity.ID)
				if err := s2.Ack(ctx, j); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(ids) != 2 {
			t.Fatalf("after restart got %v", ids)
		}
		if must(s2.Enqueue(ctx, "hook", Activity("p1")))(t) {
			t.Error("delivered activity enqueued again after restart")
		}
	})

	runTasks(t, h, now)
	runBatch(t, h, now)

	t.Run("ReserveStart", func(t *testing.T) {
		s := h.New(t, now)
		t0 := time.Date(2026, 11, 21, 16, 11, 10, 0, time.UTC)
		margin := 2 * time.Second
		must(s.ReserveStart(ctx, crmsync.StartKey{User: "101", Remote: "+358401234567", Start: t0, Margin: margin, ID: "base"}))(t)
		tests := []struct {
			name   string
			user   string
			remote string
			delta  time.Duration
			margin time.Duration
			id     string
			dup    string
		}{
			{"same id again", "101", "+358401234567", 0, margin, "base", ""},
			{"exactly +margin", "101", "+358401234567", margin, margin, "e1", "base"},
			{"exactly -margin", "101", "+358401234567", -margin, margin, "e2", "base"},
			{"inside", "101", "+358401234567", 500 * time.Millisecond, margin, "e3", "base"},
			{"just past +margin", "101", "+358401234567", margin + time.Millisecond, margin, "e4", ""},
			{"just before -margin", "101", "+358401234567", -margin - time.Millisecond, margin, "e5", ""},
			{"other user", "102", "+358401234567", 0, margin, "e6", ""},
			{"other remote", "101", "+358409999999", 0, margin, "e7", ""},
			{"zero margin same start", "101", "+358401234567", 0, 0, "e8", "base"},
			// e4 was accepted above at +margin+1ms: now it blocks its own
			// neighbourhood too.
			{"against a later accepted one", "101", "+358401234567", margin + 2*time.Second, margin, "e9", "e4"},
		}
		for _, tt := range tests {
			got := must(s.ReserveStart(ctx, crmsync.StartKey{User: tt.user, Remote: tt.remote, Start: t0.Add(tt.delta), Margin: tt.margin, ID: tt.id}))(t)
			if got != tt.dup {
				t.Errorf("%s: duplicate of %q, want %q", tt.name, got, tt.dup)
			}
		}
	})

	// The rule as SEMANTICS.md states it: one source's two call ids are
	// two calls, however close; the same call seen through another source
	// (or a call with no call id known) is a duplicate.
	t.Run("ReserveStartCalls", func(t *testing.T) {
		s := h.New(t, now)
		t0 := time.Date(2026, 11, 21, 16, 19, 10, 0, time.UTC)
		margin := 5 * time.Second
		tests := []struct {
			name        string
			id          string
			delta       time.Duration
			source, cid string
			dup         string
		}{
			{"first call", "a1", 0, "ari", "1.1", ""},
			{"same source, other call id, same start", "a2", 0, "ari", "1.2", ""},
			{"same source, other call id, 1s later", "a3", time.Second, "ari", "1.3", ""},
			{"same source and call id, other activity", "a1b", 0, "ari", "1.1", "a1"},
			// Both a1 and a2 start at t0: the earlier key wins a tie.
			{"other source: the nearest start", "s1", 100 * time.Millisecond, "sip", "x1", "a1"},
			// a1 holds sip x1 now: sip's next call is not a1 again.
			{"other source, second call", "s2", 100 * time.Millisecond, "sip", "x2", "a2"},
			{"other source, third call", "s3", 900 * time.Millisecond, "sip", "x3", "a3"},
			{"other source, a fourth call none of ari's is", "s4", 0, "sip", "x4", ""},
			{"the merged call seen again", "s1", 100 * time.Millisecond, "sip", "x1", "a1"},
			{"no call id known: a call another system wrote", "o1", 2 * time.Second, "", "", "a3"},
			{"no source known", "o2", 0, "", "1.9", "a1"},
			{"outside the margin", "a9", margin + time.Second + time.Millisecond, "ari", "1.9", ""},
		}
		for _, tt := range tests {
			got := must(s.ReserveStart(ctx, crmsync.StartKey{User: "101", Remote: "+358401234567", Start: t0.Add(tt.delta),
				Margin: margin, ID: tt.id, Source: tt.source, CallID: tt.cid}))(t)
			if got != tt.dup {
				t.Errorf("%s: duplicate of %q, want %q", tt.name, got, tt.dup)
			}
		}
		// What a reservation stands for survives a restart.
		s2 := h.Reopen(t, s)
		if got := must(s2.ReserveStart(ctx, crmsync.StartKey{User: "101", Remote: "+358401234567", Start: t0,
			Margin: margin, ID: "s5", Source: "sip", CallID: "x5"}))(t); got != "" {
			t.Errorf("after a restart: sip's fifth call is a duplicate of %q", got)
		}
	})

	// Fifty real calls from one number to one user, 100 ms apart as in
	// the load_50 recording, are fifty activities; the same fifty seen
	// again through a second source are fifty duplicates, each of its own
	// call.
	t.Run("ReserveStartFiftyCalls", func(t *testing.T) {
		s := h.New(t, now)
		t0 := time.Date(2026, 11, 21, 16, 19, 10, 775_000_000, time.UTC)
		key := func(src string, i int, skew time.Duration) crmsync.StartKey {
			return crmsync.StartKey{User: "101", Remote: "+358401234567", Start: t0.Add(time.Duration(i)*100*time.Millisecond + skew),
				Margin: 5 * time.Second, ID: fmt.Sprintf("%s%02d", src, i), Source: src, CallID: fmt.Sprintf("%s-call-%d", src, i)}
		}
		for i := range 50 {
			if dup := must(s.ReserveStart(ctx, key("ari", i, 0)))(t); dup != "" {
				t.Errorf("call %d: duplicate of %s", i, dup)
			}
		}
		for i := range 50 {
			want := fmt.Sprintf("ari%02d", i)
			if dup := must(s.ReserveStart(ctx, key("sip", i, 20*time.Millisecond)))(t); dup != want {
				t.Errorf("call %d through sip: duplicate of %q, want %q", i, dup, want)
			}
		}
	})

	t.Run("ReserveStartRaceDistinctCalls", func(t *testing.T) {
		s := h.New(t, now)
		stores := []crmsync.Store{s, s}
		if h.Shared {
			stores[1] = h.Reopen(t, s)
		}
		t0 := time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC)
		const n = 16
		results := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dup, err := stores[i%2].ReserveStart(ctx, crmsync.StartKey{
					User: "103", Remote: "0401234567", Start: t0.Add(time.Duration(i) * time.Millisecond), Margin: time.Second,
					ID: fmt.Sprint("r", i), Source: "ari", CallID: fmt.Sprint("c", i),
				})
				if err != nil {
					t.Error(err)
				}
				results[i] = dup
			}()
		}
		wg.Wait()
		for i, r := range results {
			if r != "" {
				t.Errorf("call %d of one source taken for a duplicate of %s", i, r)
			}
		}
	})

	t.Run("ReserveStartRace", func(t *testing.T) {
		s := h.New(t, now)
		stores := []crmsync.Store{s, s}
		if h.Shared {
			stores[1] = h.Reopen(t, s)
		}
		t0 := time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC)
		const n = 16
		results := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dup, err := stores[i%2].ReserveStart(ctx, crmsync.StartKey{
					User: "103", Remote: "0401234567", Start: t0.Add(time.Duration(i) * time.Millisecond), Margin: time.Second, ID: fmt.Sprint("r", i),
				})
				if err != nil {
					t.Error(err)
				}
				results[i] = dup
			}()
		}
		wg.Wait()
		accepted := 0
		for _, r := range results {
			if r == "" {
				accepted++
			}
		}
		if accepted != 1 {
			t.Errorf("%d of %d racing duplicates accepted, want 1: %q", accepted, n, results)
		}
	})
}
