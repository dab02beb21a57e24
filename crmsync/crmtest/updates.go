package crmtest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
)

// Wrapup is a sample disposition: what an agent keys in after the call.
func Wrapup(code string) *crmsync.Wrapup {
	return &crmsync.Wrapup{Code: code, Notes: "Wants a quote by Friday", At: time.Date(2026, 11, 21, 16, 13, 0, 0, time.UTC)}
}

// UpdateRequest is a wrap-up of Activity(id).
func UpdateRequest(id, code string, complete bool) crmsync.UpdateRequest {
	a := Activity(id)
	return crmsync.UpdateRequest{ID: "wrapup:" + id, ActivityID: id, CallID: a.CallID, User: a.User, Wrapup: Wrapup(code), Complete: complete}
}

// Callback is a sample callback request to queue.
func Callback(id, queue string, dup string) crmsync.Callback {
	return crmsync.Callback{ID: id, Number: "040 123 4567", E164: "+358401234567", Queue: "support", CRMQueue: queue,
		Subject: "Call back +358401234567", RequestedAt: time.Date(2026, 11, 21, 16, 20, 0, 0, time.UTC),
		Ownership: crmsync.OwnerAPIUser, Duplicates: dup}
}

// classes are the answers every request kind is classified by.
var classes = []struct {
	name      string
	fault     *fault
	permanent bool
	unauth    bool
}{
	{name: "500", fault: &fault{status: 500}},
	{name: "429", fault: &fault{status: 429}},
	{name: "400", fault: &fault{status: 400}, permanent: true},
	{name: "401", fault: &fault{status: 401}, unauth: true},
}

func classify(t *testing.T, err error, permanent, unauth bool) {
	t.Helper()
	if err == nil {
		t.Fatal("succeeded against a failing CRM")
	}
	if got := crmerr.IsPermanent(err); got != permanent {
		t.Errorf("IsPermanent = %v, want %v: %v", got, permanent, err)
	}
	if got := crmerr.IsUnauthorized(err); got != unauth {
		t.Errorf("IsUnauthorized = %v, want %v: %v", got, unauth, err)
	}
}

// runUpdates covers crmsync.Updater: an open push stays open, a wrap-up
// completes it once however often it is applied, a wrap-up of a completed
// activity is still written, and failures are classified as pushes are.
func runUpdates(t *testing.T, h Harness, c Connector, f *front, errs *[]error) {
	u, ok := c.(crmsync.Updater)
	if !ok {
		return
	}
	if h.Record == nil {
		t.Error("the connector is a crmsync.Updater but the harness has no Record")
		return
	}
	ctx := context.Background()
	t.Run("PushOpenThenWrap", func(t *testing.T) {
		if err := u.PushOpen(ctx, Delivery("open-1")); err != nil {
			t.Fatal(err)
		}
		if err := u.PushOpen(ctx, Delivery("open-1")); err != nil {
			t.Fatal(err)
		}
		if open, code, ok := h.Record("open-1"); !ok || !open || code != "" || h.Count("open-1") != 1 {
			t.Fatalf("after PushOpen twice: open %v code %q held %v count %d", open, code, ok, h.Count("open-1"))
		}
		for range 2 {
			if err := u.Update(ctx, UpdateRequest("open-1", "SALE", true)); err != nil {
				t.Fatal(err)
			}
		}
		if open, code, _ := h.Record("open-1"); open || code != "SALE" || h.Count("open-1") != 1 {
			t.Fatalf("after the wrap-up: open %v code %q count %d", open, code, h.Count("open-1"))
		}
	})
	t.Run("CompleteWithoutWrapup", func(t *testing.T) {
		if err := u.PushOpen(ctx, Delivery("open-2")); err != nil {
			t.Fatal(err)
		}
		done := crmsync.UpdateRequest{ID: "complete:open-2", ActivityID: "open-2", CallID: Activity("open-2").CallID, User: "101", Complete: true}
		for range 2 {
			if err := u.Update(ctx, done); err != nil {
				t.Fatal(err)
			}
		}
		if open, code, _ := h.Record("open-2"); open || code != "" {
			t.Fatalf("after the timeout: open %v code %q", open, code)
		}
		// A wrap-up after the timeout is still written.
		if err := u.Update(ctx, UpdateRequest("open-2", "LATE", true)); err != nil {
			t.Fatal(err)
		}
		if open, code, _ := h.Record("open-2"); open || code != "LATE" {
			t.Fatalf("late wrap-up: open %v code %q", open, code)
		}
	})
	t.Run("WrapupOfCompletedActivity", func(t *testing.T) {
		if err := c.Push(ctx, Delivery("done-1")); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := u.Update(ctx, UpdateRequest("done-1", "NOSALE", false)); err != nil {
				t.Fatal(err)
			}
		}
		if open, code, _ := h.Record("done-1"); open || code != "NOSALE" || h.Count("done-1") != 1 {
			t.Fatalf("open %v code %q count %d", open, code, h.Count("done-1"))
		}
	})
	for i, tt := range classes {
		t.Run("Update"+tt.name, func(t *testing.T) {
			id := "upd-fault-" + strconv.Itoa(i)
			if err := c.Push(ctx, Delivery(id)); err != nil {
				t.Fatal(err)
			}
			f.set(tt.fault)
			defer f.set(nil)
			err := u.Update(ctx, UpdateRequest(id, "SALE", true))
			classify(t, err, tt.permanent, tt.unauth)
			*errs = append(*errs, err)
		})
	}
}

// runCallbacks covers crmsync.CallbackWriter: a request written three
// times is held once, and failures are classified.
func runCallbacks(t *testing.T, h Harness, c Connector, f *front, errs *[]error) {
	cw, ok := c.(crmsync.CallbackWriter)
	if !ok {
		return
	}
	if h.Callbacks == nil {
		t.Error("the connector is a crmsync.CallbackWriter but the harness has no Callbacks")
		return
	}
	ctx := context.Background()
	t.Run("CallbackIdempotent", func(t *testing.T) {
		cb := Callback("cb-idem", h.CallbackQueue, crmsync.DuplicatesBundle)
		for range 3 {
			if err := cw.PushCallback(ctx, cb); err != nil {
				t.Fatal(err)
			}
		}
		if n := h.Callbacks(cb.ID); n != 1 {
			t.Fatalf("after three pushes the CRM holds %d copies", n)
		}
	})
	for i, tt := range classes {
		t.Run("Callback"+tt.name, func(t *testing.T) {
			f.set(tt.fault)
			defer f.set(nil)
			id := "cb-fault-" + strconv.Itoa(i)
			err := cw.PushCallback(ctx, Callback(id, h.CallbackQueue, crmsync.DuplicatesBundle))
			classify(t, err, tt.permanent, tt.unauth)
			*errs = append(*errs, err)
			if n := h.Callbacks(id); n != 0 {
				t.Errorf("a refused request left %d copies", n)
			}
		})
	}
}
