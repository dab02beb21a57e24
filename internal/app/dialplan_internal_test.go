package app

import (
	"context"
	"testing"

	"github.com/callbridge/callbridge/crmsync"
)

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
