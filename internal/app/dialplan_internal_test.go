package app

import (
	"context"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
)

// A user is on a call from ringing to ended, per call and source; a call
// whose end was lost stops counting after staleCall.
func TestPresence(t *testing.T) {
	now := time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC)
	p := newPresence()
	p.now = func() time.Time { return now }
	tr := func(call string, st bridge.LiveState) bridge.Transition {
		return bridge.Transition{CallID: call, User: "101", State: st}
	}
	if p.OnCall("101") {
		t.Fatal("on a call before any")
	}
	p.apply("ari", tr("c1", bridge.Ringing))
	p.apply("ari", tr("c2", bridge.Talking))
	p.apply("ari", tr("c1", bridge.HungUp))
	if !p.OnCall("101") {
		t.Fatal("not on a call with c2 connected")
	}
	p.apply("ami", tr("c2", bridge.HungUp)) // another source's c2 is another call
	if !p.OnCall("101") || p.OnCall("102") {
		t.Fatal("wrong presence after another source's end")
	}
	p.apply("ari", bridge.Transition{CallID: "c2", User: "101", Activity: &bridge.Activity{}})
	p.apply("ari", tr("c2", bridge.HungUp))
	if p.OnCall("101") {
		t.Fatal("on a call after every call ended")
	}
	p.apply("ari", tr("c3", bridge.Talking))
	now = now.Add(staleCall + time.Minute)
	if p.OnCall("101") {
		t.Fatal("a call without an end counts for ever")
	}
}

type mapper struct{ m map[string]string }

func (mapper) Name() string                                 { return "dyn" }
func (mapper) Push(context.Context, crmsync.Delivery) error { return nil }
func (m mapper) MappedUsers() map[string]string             { return m.m }

// A record's owner maps back to the user whose CRM user it is, the
// explicit crm_user winning over the connector's own mapping.
func TestOwners(t *testing.T) {
	o := newOwners(map[string]string{"103": "C-USER"})
	conn := mapper{m: map[string]string{"101": "a-user", "102": "b-user", "104": "c-user"}}
	if _, ok := o.Extension("dyn", "a-user"); ok {
		t.Fatal("mapped before refresh")
	}
	o.refresh([]crmsync.Connector{conn})
	for crmUser, want := range map[string]string{"a-user": "101", "B-USER": "102", "c-user": "103"} {
		if got, ok := o.Extension("dyn", crmUser); !ok || got != want {
			t.Errorf("%s: %q %v, want %s", crmUser, got, ok, want)
		}
	}
	if _, ok := o.Extension("other", "a-user"); ok {
		t.Error("another connector's owner mapped")
	}
}
