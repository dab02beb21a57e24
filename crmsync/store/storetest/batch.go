package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync"
)

// runBatch covers the intake's batches (crmsync.ReserveStarts and
// EnqueueJobs): whether or not the store takes them in one step, a batch
// gives exactly what its calls one after another give.
func runBatch(t *testing.T, h Harness, now func() time.Time) {
	ctx := context.Background()

	t.Run("ReserveStartsInOrder", func(t *testing.T) {
		s := h.New(t, now)
		t0 := time.Date(2026, 11, 21, 16, 11, 10, 0, time.UTC)
		m := 2 * time.Second
		key := func(id string, d time.Duration, src, call string) crmsync.StartKey {
			return crmsync.StartKey{User: "101", Remote: "+358401234567", Start: t0.Add(d), Margin: m, ID: id, Source: src, CallID: call}
		}
		keys := []crmsync.StartKey{
			key("first", 0, "ari", "c1"),
			key("first", 0, "ari", "c1"),             // the same again: not its own duplicate
			key("sip-twin", time.Second, "sip", "x"), // the same call through SIP: a later key sees the first
			key("other-call", time.Second, "ari", "c2"),
			key("far", 10*time.Second, "ari", "c3"),
			key("near-far", 11*time.Second, "", ""), // unknown call: may be the same as "far"
		}
		want := []string{"", "", "first", "", "", "far"}
		got := must(crmsync.ReserveStarts(ctx, s, keys))(t)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("batch answers %q, want %q", got, want)
		}
		// The reservations are kept, as single calls' are.
		if d := must(s.ReserveStart(ctx, key("late", 200*time.Millisecond, "", "")))(t); d != "first" {
			t.Fatalf("after the batch: duplicate of %q, want first", d)
		}
		if _, err := crmsync.ReserveStarts(ctx, s, []crmsync.StartKey{key("", 0, "", "")}); err == nil {
			t.Fatal("a key without id accepted")
		}
	})

	t.Run("EnqueueJobsInOrder", func(t *testing.T) {
		s := h.New(t, now)
		job := func(conn, id string) crmsync.NewJob {
			return crmsync.NewJob{Connector: conn, Job: crmsync.Job{Activity: Activity(id)}}
		}
		later := job("hook", "later")
		later.Due = now().Add(time.Hour)
		jobs := []crmsync.NewJob{job("hook", "b0"), job("other", "b0"), job("hook", "b1"), job("hook", "b0"), later, job("hook", "b2")}
		added := must(crmsync.EnqueueJobs(ctx, s, jobs))(t)
		if fmt.Sprint(added) != "[true true true false true true]" {
			t.Fatalf("added %v", added)
		}
		claimed := must(s.Claim(ctx, req("hook", "w1", 10, time.Minute)))(t)
		var ids []string
		for _, j := range claimed {
			ids = append(ids, j.Activity.ID)
		}
		if fmt.Sprint(ids) != "[b0 b1 b2]" {
			t.Fatalf("claimed %v, want the batch's due jobs in order", ids)
		}
		wantStats(t, s, crmsync.QueueStats{Connector: "hook", InFlight: 3, Delayed: 1})
		wantStats(t, s, crmsync.QueueStats{Connector: "other", Ready: 1})
		if again := must(crmsync.EnqueueJobs(ctx, s, jobs[:1]))(t); again[0] {
			t.Fatal("a job enqueued twice")
		}
		if _, err := crmsync.EnqueueJobs(ctx, s, []crmsync.NewJob{{Connector: "hook"}}); err == nil {
			t.Fatal("a job without id accepted")
		}
	})

	t.Run("AdmitInOrder", func(t *testing.T) {
		s := h.New(t, now)
		t0 := time.Date(2026, 11, 21, 16, 11, 10, 0, time.UTC)
		key := func(id string, d time.Duration, src, call string) crmsync.StartKey {
			return crmsync.StartKey{User: "101", Remote: "+358401234567", Start: t0.Add(d), Margin: 2 * time.Second, ID: id, Source: src, CallID: call}
		}
		jobs := func(id string) []crmsync.NewJob {
			return []crmsync.NewJob{
				{Connector: "hook", Job: crmsync.Job{Activity: Activity(id)}},
				{Connector: "other", Job: crmsync.Job{Activity: Activity(id)}},
			}
		}
		keys := []crmsync.StartKey{key("first", 0, "ari", "c1"), key("twin", time.Second, "sip", "x"), key("second", time.Minute, "ari", "c2")}
		dups := must(crmsync.Admit(ctx, s, keys, [][]crmsync.NewJob{jobs("first"), jobs("twin"), jobs("second")}))(t)
		if fmt.Sprint(dups) != "[ first ]" {
			t.Fatalf("duplicates %q, want the twin's only", dups)
		}
		for _, conn := range []string{"hook", "other"} {
			var ids []string
			for _, j := range must(s.Claim(ctx, req(conn, "w1", 10, time.Minute)))(t) {
				ids = append(ids, j.Activity.ID)
			}
			if fmt.Sprint(ids) != "[first second]" {
				t.Fatalf("%s: claimed %v, want the two kept, in order", conn, ids)
			}
		}
		if got := must(s.JobState(ctx, "hook", "twin"))(t); got != crmsync.JobUnknown {
			t.Fatalf("the duplicate's job: %v, want none", got)
		}
		// Asked again (a retry after an error), nothing changes.
		if again := must(crmsync.Admit(ctx, s, keys, [][]crmsync.NewJob{jobs("first"), jobs("twin"), jobs("second")}))(t); fmt.Sprint(again) != "[ first ]" {
			t.Fatalf("again: duplicates %q", again)
		}
		wantStats(t, s, crmsync.QueueStats{Connector: "hook", InFlight: 2})
	})
}
