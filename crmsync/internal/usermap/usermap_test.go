package usermap

import (
	"testing"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
)

func dir() *Directory {
	return New([]User{
		{ID: "u1", Email: "Alice@Example.com", Active: true},
		{ID: "u2", Email: "bob@example.com", Active: false},
		{ID: "u3", Email: "shared@example.com", Active: true},
		{ID: "u4", Email: "shared@example.com", Active: true},
		{ID: "u5", Email: "carol@example.com", Active: true},
		{ID: "u6", Email: "carol@example.com", Active: false},
	})
}

func TestOwner(t *testing.T) {
	d := dir()
	tests := []struct {
		name    string
		as      crmsync.Assignment
		def     string
		id, how string
	}{
		{"policy mapping wins", crmsync.Assignment{CRMUser: "u9", Mapped: true, Email: "alice@example.com"}, "d", "u9", "policy"},
		{"e-mail, any case", crmsync.Assignment{Email: " alice@EXAMPLE.com"}, "d", "u1", "email"},
		{"one active among inactive", crmsync.Assignment{Email: "carol@example.com"}, "d", "u5", "email"},
		{"inactive: default owner", crmsync.Assignment{Email: "bob@example.com"}, "d", "d", "default_owner"},
		{"shared: default owner", crmsync.Assignment{Email: "shared@example.com"}, "d", "d", "default_owner"},
		{"default owner before the default assignee", crmsync.Assignment{CRMUser: "q"}, "d", "d", "default_owner"},
		{"default assignee", crmsync.Assignment{CRMUser: "q"}, "", "q", "default_assignee"},
		{"nobody", crmsync.Assignment{Email: "x@example.com"}, "", "", ""},
	}
	for _, tt := range tests {
		id, how := d.Owner(tt.as, tt.def)
		if id != tt.id || how != tt.how {
			t.Errorf("%s: %q %q, want %q %q", tt.name, id, how, tt.id, tt.how)
		}
	}
	var empty *Directory
	if id, how := empty.Owner(crmsync.Assignment{Email: "alice@example.com"}, "d"); id != "d" || how != "default_owner" {
		t.Errorf("nil directory: %q %q", id, how)
	}
}

func TestReport(t *testing.T) {
	rep := dir().Report([]bridge.User{
		{Extension: "105", Email: "nobody@example.com"},
		{Extension: "101", Email: "alice@example.com"},
		{Extension: "102", Email: "bob@example.com"},
		{Extension: "103", Email: " Carol@example.com"},
		{Extension: "104"},
		{Extension: "106", Email: "shared@example.com"},
	})
	if rep.CRMUsers != 6 || rep.Mapped["101"] != "email" || rep.Mapped["103"] != "email" || len(rep.Mapped) != 2 {
		t.Errorf("mapped %+v", rep)
	}
	want := map[string]string{
		"102": "CRM user with e-mail bob@example.com is inactive",
		"104": "no e-mail",
		"105": "no CRM user with e-mail nobody@example.com",
		"106": "2 CRM users share e-mail shared@example.com: set crm_user",
	}
	if len(rep.Unmapped) != len(want) {
		t.Fatalf("unmapped %+v", rep.Unmapped)
	}
	for i, u := range rep.Unmapped {
		if i > 0 && rep.Unmapped[i-1].Extension >= u.Extension {
			t.Errorf("unmapped not sorted: %+v", rep.Unmapped)
		}
		if u.Reason != want[u.Extension] {
			t.Errorf("unmapped %s: %q, want %q", u.Extension, u.Reason, want[u.Extension])
		}
	}
}
