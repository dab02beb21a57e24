package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
)

// Update is a test wrap-up task for the activity with id.
func Update(id string) crmsync.Job {
	at := time.Date(2026, 11, 21, 16, 12, 0, 0, time.UTC)
	a := Activity(id)
	return crmsync.Job{
		Activity: bridge.Activity{ID: a.ID, CallID: a.CallID, User: a.User},
		Task: &crmsync.Task{ID: "wrapup:" + id, After: id, GiveUpAt: at.Add(time.Hour), SkipIf: "x:" + id,
			Update: &crmsync.UpdateRequest{ID: "wrapup:" + id, ActivityID: id, CallID: a.CallID, User: a.User,
				Wrapup: &crmsync.Wrapup{Code: "SALE", Notes: "wants a quote", At: at}, Complete: true}},
	}
}

// claimOne waits up to five seconds for one job of conn.
func claimOne(t *testing.T, s crmsync.Store, conn string) crmsync.Job {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if js := must(s.Claim(context.Background(), req(conn, "w1", 1, time.Minute)))(t); len(js) == 1 {
			return js[0]
		}
	}
	t.Fatal("no job became claimable")
	return crmsync.Job{}
}

func wantState(t *testing.T, s crmsync.Store, conn, id string, want crmsync.JobState) {
	t.Helper()
	if got := must(s.JobState(context.Background(), conn, id))(t); got != want {
		t.Errorf("JobState(%s) = %v, want %v", id, got, want)
	}
}

// runTasks covers what updates and callback requests need of a store:
// jobs that are tasks, jobs due later, open pushes and job states, all as
// durable as activities.
func runTasks(t *testing.T, h Harness, now func() time.Time) {
	ctx := context.Background()

	t.Run("TaskJobs", func(t *testing.T) {
		s := h.New(t, now)
		u := Update("t1")
		wantState(t, s, "hook", u.ID(), crmsync.JobUnknown)
		if !must(s.EnqueueJob(ctx, "hook", u, time.Time{}))(t) {
			t.Fatal("task not added")
		}
		if must(s.EnqueueJob(ctx, "hook", u, time.Time{}))(t) {
			t.Fatal("task added twice")
		}
		if _, err := s.EnqueueJob(ctx, "hook", crmsync.Job{}, time.Time{}); err == nil {
			t.Fatal("job without id accepted")
		}
		wantState(t, s, "hook", u.ID(), crmsync.JobQueued)
		wantState(t, s, "other", u.ID(), crmsync.JobUnknown)
		j := claimOne(t, s, "hook")
		if !reflect.DeepEqual(j.Task, u.Task) || j.Activity.ID != "t1" || j.Activity.CallID != u.Activity.CallID || j.ID() != u.ID() {
			t.Fatalf("claimed %+v (task %+v), want task %+v", j, j.Task, u.Task)
		}
		// A retry keeps the task.
		if err := s.Nack(ctx, j, now().Add(-time.Second), "HTTP 503"); err != nil {
			t.Fatal(err)
		}
		j = claimOne(t, s, "hook")
		if !reflect.DeepEqual(j.Task, u.Task) || j.Attempt != 1 || j.LastError != "HTTP 503" {
			t.Fatalf("retried task: %+v", j)
		}
		wantState(t, s, "hook", u.ID(), crmsync.JobQueued)
		if err := s.Ack(ctx, j); err != nil {
			t.Fatal(err)
		}
		wantState(t, s, "hook", u.ID(), crmsync.JobDelivered)
		if must(s.EnqueueJob(ctx, "hook", u, time.Time{}))(t) {
			t.Fatal("delivered task enqueued again")
		}
		// The activity of the same id is a job of its own.
		wantState(t, s, "hook", "t1", crmsync.JobUnknown)
		must(s.Enqueue(ctx, "hook", Activity("t1")))(t)
		wantState(t, s, "hook", "t1", crmsync.JobQueued)
	})

	t.Run("OpenPush", func(t *testing.T) {
		s := h.New(t, now)
		if !must(s.EnqueueJob(ctx, "hook", crmsync.Job{Activity: Activity("o1"), Open: true}, time.Time{}))(t) {
			t.Fatal("not added")
		}
		if must(s.Enqueue(ctx, "hook", Activity("o1")))(t) {
			t.Fatal("the same activity enqueued again as a plain push")
		}
		j := claimOne(t, s, "hook")
		if !j.Open || j.Task != nil || j.Activity.StartedAt != Activity("o1").StartedAt {
			t.Fatalf("claimed %+v", j)
		}
	})

	t.Run("DueLater", func(t *testing.T) {
		s := h.New(t, now)
		must(s.EnqueueJob(ctx, "hook", Update("d1"), now().Add(time.Hour)))(t)
		must(s.EnqueueJob(ctx, "hook", Update("d2"), now().Add(300*time.Millisecond)))(t)
		must(s.EnqueueJob(ctx, "hook", Update("d3"), now().Add(-time.Hour)))(t)
		j := claimOne(t, s, "hook")
		if j.ID() != "wrapup:d3" {
			t.Fatalf("first claimed %s, want the one due in the past", j.ID())
		}
		if js := must(s.Claim(ctx, req("hook", "w1", 10, time.Minute)))(t); len(js) != 0 && js[0].ID() != "wrapup:d2" {
			t.Fatalf("claimed %s before it was due", js[0].ID())
		} else if len(js) == 0 {
			j = claimOne(t, s, "hook")
			if j.ID() != "wrapup:d2" {
				t.Fatalf("claimed %s, want wrapup:d2", j.ID())
			}
		}
		if js := must(s.Claim(ctx, req("hook", "w1", 10, time.Minute)))(t); len(js) != 0 {
			t.Fatalf("claimed %s an hour early", js[0].ID())
		}
		wantState(t, s, "hook", "wrapup:d1", crmsync.JobQueued)
		if st := stats(t, s, "hook"); st.Delayed != 1 {
			t.Errorf("stats %+v, want one delayed", st)
		}
	})

	t.Run("DeadTask", func(t *testing.T) {
		s := h.New(t, now)
		u := Update("x1")
		must(s.EnqueueJob(ctx, "hook", u, time.Time{}))(t)
		j := claimOne(t, s, "hook")
		if err := s.DeadLetter(ctx, j, "HTTP 400"); err != nil {
			t.Fatal(err)
		}
		wantState(t, s, "hook", u.ID(), crmsync.JobDead)
		dl := must(s.DeadLetters(ctx, "hook", 0))(t)
		if len(dl) != 1 || dl[0].ID() != u.ID() || !reflect.DeepEqual(dl[0].Task, u.Task) {
			t.Fatalf("dead letters %+v", dl)
		}
		if err := s.Retry(ctx, u.ID()); err != nil {
			t.Fatal(err)
		}
		j = claimOne(t, s, "hook")
		if !reflect.DeepEqual(j.Task, u.Task) || j.Attempt != 0 {
			t.Fatalf("retried dead task: %+v", j)
		}
	})

	t.Run("PendingSurvivesRestart", func(t *testing.T) {
		s := h.New(t, now)
		must(s.EnqueueJob(ctx, "hook", Update("r1"), now().Add(400*time.Millisecond)))(t)
		must(s.EnqueueJob(ctx, "hook", crmsync.Job{Activity: Activity("r2"), Open: true}, time.Time{}))(t)
		s2 := h.Reopen(t, s)
		got := map[string]crmsync.Job{}
		for len(got) < 2 {
			j := claimOne(t, s2, "hook")
			got[j.ID()] = j
			if err := s2.Ack(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
		if j := got["wrapup:r1"]; !reflect.DeepEqual(j.Task, Update("r1").Task) {
			t.Errorf("the pending update after a restart: %+v", j)
		}
		if j := got["r2"]; !j.Open {
			t.Errorf("the open push after a restart: %+v", j)
		}
		wantState(t, s2, "hook", "wrapup:r1", crmsync.JobDelivered)
	})
}
