package crmsync_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync"
)

func TestCallbacksConfigValidate(t *testing.T) {
	ok := crmsync.CallbackProfile{Queue: "support", CRMQueue: "Support"}
	for _, tt := range []struct {
		cfg  crmsync.CallbacksConfig
		want string
	}{
		{crmsync.CallbacksConfig{}, ""},
		{crmsync.CallbacksConfig{Subject: "Call {{.Number}} back", Profiles: []crmsync.CallbackProfile{ok,
			{Queue: "sales", CRMQueue: "q", Ownership: "queue_owner", Duplicates: "ignore", Subject: "{{.Queue}}"}}}, ""},
		{crmsync.CallbacksConfig{Subject: "{{.Nope}}"}, "subject"},
		{crmsync.CallbacksConfig{Profiles: []crmsync.CallbackProfile{ok, ok}}, "profiles[1].queue"},
		{crmsync.CallbacksConfig{Profiles: []crmsync.CallbackProfile{{CRMQueue: "q"}}}, "profiles[0].queue"},
		{crmsync.CallbacksConfig{Profiles: []crmsync.CallbackProfile{{Queue: "a b", CRMQueue: "q"}}}, "profiles[0].queue"},
		{crmsync.CallbacksConfig{Profiles: []crmsync.CallbackProfile{{Queue: "s"}}}, "profiles[0].crm_queue"},
		{crmsync.CallbacksConfig{Profiles: []crmsync.CallbackProfile{{Queue: "s", CRMQueue: "q", Ownership: "me"}}}, "profiles[0].ownership"},
		{crmsync.CallbacksConfig{Profiles: []crmsync.CallbackProfile{{Queue: "s", CRMQueue: "q", Duplicates: "merge"}}}, "profiles[0].duplicates"},
		{crmsync.CallbacksConfig{Profiles: []crmsync.CallbackProfile{{Queue: "s", CRMQueue: "q", Subject: "{{"}}}, "profiles[0].subject"},
	} {
		err := tt.cfg.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestCallbacksRequest(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	conns := []crmsync.Connector{&namedUpd{name: "dyn"}, plainCRM{name: "plain"}}
	cfg := crmsync.CallbacksConfig{Subject: "Global {{.Number}}", Profiles: []crmsync.CallbackProfile{
		{Queue: "support", CRMQueue: "Support", Ownership: crmsync.OwnerQueue, Duplicates: crmsync.DuplicatesIgnore, Subject: "Support: call {{.Number}}"},
		{Queue: "sales", CRMQueue: "Sales"},
	}}
	c, err := crmsync.NewCallbacks(cfg, s, conns)
	if err != nil {
		t.Fatal(err)
	}
	c.Normalize = func(n string) (string, bool) {
		if n == "040 1234567" {
			return "+358401234567", true
		}
		return "", false
	}
	now := time.Date(2026, 11, 21, 16, 20, 0, 0, time.UTC)
	c.Now = func() time.Time { return now }
	if _, err := c.Request(ctx, crmsync.CallbackRequest{Number: "040 1234567", Queue: "billing"}); !errors.Is(err, crmsync.ErrNoProfile) {
		t.Errorf("unknown queue: %v", err)
	}
	for _, n := range []string{"", "call me", strings.Repeat("1", 40)} {
		if _, err := c.Request(ctx, crmsync.CallbackRequest{Number: n, Queue: "support"}); !errors.Is(err, crmsync.ErrBadCallback) {
			t.Errorf("number %q: %v", n, err)
		}
	}
	at := now.Add(-time.Minute)
	r1, err := c.Request(ctx, crmsync.CallbackRequest{Number: "040 1234567", Queue: "support", RequestedAt: at})
	if err != nil || !slices.Equal(r1.Connectors, []string{"dyn"}) {
		t.Fatalf("%+v %v", r1, err)
	}
	// The same request again (a retried CURL): the same id, not queued twice.
	r2, _ := c.Request(ctx, crmsync.CallbackRequest{Number: "040 1234567", Queue: "support", RequestedAt: at})
	if r2.ID != r1.ID || !slices.Equal(r2.Repeated, []string{"dyn"}) {
		t.Fatalf("repeat %+v, first %+v", r2, r1)
	}
	// Another moment is another request; a key the caller gives wins.
	r3, _ := c.Request(ctx, crmsync.CallbackRequest{Number: "040 1234567", Queue: "support", RequestedAt: at.Add(time.Second)})
	r4, _ := c.Request(ctx, crmsync.CallbackRequest{ID: "key-1", Number: "+358401234567", Queue: "sales", Subject: "Own subject"})
	r5, _ := c.Request(ctx, crmsync.CallbackRequest{Number: "+46701234567", Queue: "sales"})
	if r3.ID == r1.ID || r4.ID != "key-1" {
		t.Fatalf("ids %s %s %s", r1.ID, r3.ID, r4.ID)
	}
	got := map[string]crmsync.Callback{}
	for _, j := range claimAll(t, s, "dyn") {
		got[j.Task.Callback.ID] = *j.Task.Callback
	}
	if len(got) != 4 {
		t.Fatalf("queued %d requests", len(got))
	}
	cb := got[r1.ID]
	if cb.E164 != "+358401234567" || cb.CRMQueue != "Support" || cb.Ownership != crmsync.OwnerQueue || cb.Duplicates != crmsync.DuplicatesIgnore ||
		cb.Subject != "Support: call +358401234567" || !cb.RequestedAt.Equal(at) {
		t.Errorf("support request %+v", cb)
	}
	if cb := got["key-1"]; cb.Subject != "Own subject" || cb.Ownership != crmsync.OwnerAPIUser || cb.Duplicates != crmsync.DuplicatesBundle || !cb.RequestedAt.Equal(now) {
		t.Errorf("sales request %+v", cb)
	}
	if cb := got[r5.ID]; cb.Subject != "Global +46701234567" || cb.E164 != "" {
		t.Errorf("global subject %+v", cb)
	}
	if js := claimAll(t, s, "plain"); len(js) != 0 {
		t.Errorf("a connector without CallbackWriter got %d requests", len(js))
	}
}
