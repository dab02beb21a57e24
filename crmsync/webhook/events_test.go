package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/webhook"
)

func hook(t *testing.T, s *sink) *webhook.Webhook {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	w, err := webhook.New("hook", webhook.Config{URL: srv.URL, Secret: secret, Timeout: 2 * time.Second}, webhook.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// Callback events carry the ownership and duplicate rules for the
// receiver, and one group per number and queue: requests of one number to
// one queue share it (to be bundled or ignored), another queue's do not.
func TestCallbackEvents(t *testing.T) {
	ctx := context.Background()
	s := newSink(t, secret)
	w := hook(t, s)
	reqs := []crmsync.Callback{
		crmtest.Callback("c1", "Support", crmsync.DuplicatesBundle),
		crmtest.Callback("c2", "Support", crmsync.DuplicatesIgnore),
		crmtest.Callback("c3", "Support", crmsync.DuplicatesBundle),
	}
	reqs[1].Ownership = crmsync.OwnerQueue
	reqs[2].Queue = "sales"
	for _, cb := range reqs {
		if err := w.PushCallback(ctx, cb); err != nil {
			t.Fatal(err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c1, c2, c3 := s.callbacks["c1"], s.callbacks["c2"], s.callbacks["c3"]
	if c1.Duplicates != crmsync.DuplicatesBundle || c2.Duplicates != crmsync.DuplicatesIgnore ||
		c1.Ownership != crmsync.OwnerAPIUser || c2.Ownership != crmsync.OwnerQueue {
		t.Errorf("rules not carried: %+v %+v", c1, c2)
	}
	if c1.Group != c2.Group || c1.Group == c3.Group {
		t.Errorf("groups %s %s %s: want the first two equal, the third other", c1.Group, c2.Group, c3.Group)
	}
	if c1.E164 != "+358401234567" || c1.CRMQueue != "Support" || !c1.RequestedAt.Equal(reqs[0].RequestedAt) || c1.Event != webhook.EventCallback {
		t.Errorf("event %+v", c1)
	}
}

// An open activity says so; its update names it and completes it.
func TestOpenActivityAndUpdate(t *testing.T) {
	ctx := context.Background()
	s := newSink(t, secret)
	w := hook(t, s)
	if err := w.Push(ctx, crmtest.Delivery("closed")); err != nil {
		t.Fatal(err)
	}
	if err := w.PushOpen(ctx, crmtest.Delivery("open")); err != nil {
		t.Fatal(err)
	}
	if open, _, _ := s.record("closed"); open {
		t.Error("a plain push reads as open")
	}
	if open, _, ok := s.record("open"); !open || !ok {
		t.Error("PushOpen does not read as open")
	}
	if err := w.Update(ctx, crmtest.UpdateRequest("open", "SALE", true)); err != nil {
		t.Fatal(err)
	}
	if open, code, _ := s.record("open"); open || code != "SALE" {
		t.Errorf("after the update: open %v code %q", open, code)
	}
	if err := w.Update(ctx, crmtest.UpdateRequest("unknown", "SALE", true)); err == nil {
		t.Error("the receiver's 404 for an unknown activity was not an error")
	}
}

// A disposition reaches the receiver as an activity.update whose wrap_up
// carries the code, the notes and when it was given (the shape of an
// activity body's wrap_up); a completion at wrapup.timeout has none. An
// open activity's body says "completed": false, a plain one true.
func TestUpdateBodies(t *testing.T) {
	var mu sync.Mutex
	bodies := map[string][]byte{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies[r.Header.Get("Idempotency-Key")] = b
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	w, err := webhook.New("hook", webhook.Config{URL: srv.URL, Secret: secret}, webhook.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := w.PushOpen(ctx, crmtest.Delivery("u-open")); err != nil {
		t.Fatal(err)
	}
	if err := w.Push(ctx, crmtest.Delivery("u-plain")); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 21, 16, 25, 1, 234567890, time.FixedZone("EET", 2*3600))
	wrap := crmtest.UpdateRequest("u-open", "SALE", true)
	wrap.Wrapup.Notes, wrap.Wrapup.At = "wants a quote", at
	if err := w.Update(ctx, wrap); err != nil {
		t.Fatal(err)
	}
	done := crmsync.UpdateRequest{ID: "complete:u-plain", ActivityID: "u-plain", CallID: "c", User: "101", Complete: true}
	if err := w.Update(ctx, done); err != nil {
		t.Fatal(err)
	}
	s := loadSchema(t)
	var open, plain webhook.Body
	if err := json.Unmarshal(bodies["u-open"], &open); err != nil || open.Completed {
		t.Errorf("open activity: completed %v (%v)", open.Completed, err)
	}
	if err := json.Unmarshal(bodies["u-plain"], &plain); err != nil || !plain.Completed || plain.WrapUp != nil {
		t.Errorf("plain activity: completed %v wrap_up %v (%v)", plain.Completed, plain.WrapUp, err)
	}
	checkBody(t, s, bodies["u-open"])
	var u webhook.Update
	if err := json.Unmarshal(bodies["wrapup:u-open"], &u); err != nil {
		t.Fatal(err)
	}
	want := webhook.WrapUp{Code: "SALE", Notes: "wants a quote", At: time.Date(2026, 11, 21, 14, 25, 1, 234000000, time.UTC)}
	if u.WrapUp == nil || *u.WrapUp != want || !u.Complete || u.ActivityID != "u-open" {
		t.Errorf("wrap-up update %s", bodies["wrapup:u-open"])
	}
	if !strings.Contains(string(bodies["wrapup:u-open"]), `"at":"2026-11-21T14:25:01.234Z"`) {
		t.Errorf("at not in UTC milliseconds: %s", bodies["wrapup:u-open"])
	}
	if !strings.Contains(string(bodies["complete:u-plain"]), `"wrap_up":null`) {
		t.Errorf("completion: %s", bodies["complete:u-plain"])
	}
	checkUpdate(t, s, bodies["wrapup:u-open"])
	checkUpdate(t, s, bodies["complete:u-plain"])
	var errs []string
	sub, _ := s.resolve("#/$defs/update")
	var doc any
	_ = json.Unmarshal([]byte(`{"event":"activity.update","id":"x","activity_id":"a","call_id":"c","user":"1","wrap_up":{"code":"","notes":"","at":"now"},"complete":false,"more":1}`), &doc)
	s.check(sub, doc, "$", &errs)
	if len(errs) != 4 { // the time breaks both format and pattern
		t.Errorf("a broken update: %v, want the empty code, the time and the extra key refused", errs)
	}
}
