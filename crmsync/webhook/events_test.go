package webhook_test

import (
	"context"
	"net/http/httptest"
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
	s := newSink(secret)
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
	s := newSink(secret)
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
