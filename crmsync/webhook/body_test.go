package webhook_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/internal/fakehttp"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/crmsync/webhook"
)

// book is a recognizer answering from a fixed map.
type book map[string]phoneindex.Match

func (b book) LookupE164(n string) (phoneindex.Match, bool) { m, ok := b[n]; return m, ok }
func (b book) Lookup(n string) (phoneindex.Match, bool)     { m, ok := b[n]; return m, ok }

var (
	contact = phoneindex.Candidate{Entity: "Contact", ID: "003A", Name: "Matti Meikäläinen", Kind: phoneindex.Person,
		Exact: true, URL: "https://acme.my.salesforce.com/003A", Org: "001B"}
	account = phoneindex.Candidate{Entity: "Account", ID: "001B", Name: "Acme Oy", Kind: phoneindex.Organisation, Exact: true}
)

func TestBodies(t *testing.T) {
	s := newSink(t, secret)
	srv := httptest.NewServer(s)
	defer srv.Close()
	rec := book{"+358401234567": {Best: contact, Candidates: []phoneindex.Candidate{contact, account}}}
	w, err := webhook.New("hook", webhook.Config{URL: srv.URL, Secret: secret, RecognitionFrom: "salesforce"},
		webhook.Options{Logger: zerolog.Nop(), Recognizer: rec})
	if err != nil {
		t.Fatal(err)
	}
	missed := crmtest.Activity("b-missed")
	missed.State, missed.Reason, missed.AnsweredAt, missed.TalkSeconds = bridge.Missed, bridge.ReasonNoAnswer, time.Time{}, 0
	internal := crmtest.Activity("b-internal")
	internal.Internal, internal.RemoteNumber, internal.RemoteE164 = true, "102", ""
	unknown := crmtest.Activity("b-unknown")
	unknown.RemoteNumber, unknown.RemoteE164 = "+3589876543", "+3589876543"
	out := crmtest.Activity("b-out")
	out.Direction, out.State, out.Reason = bridge.Outbound, bridge.Unaccepted, bridge.ReasonBusy

	sfContact := webhook.Match{Connector: "salesforce", Entity: "Contact", Type: "person", ID: "003A", Name: "Matti Meikäläinen",
		URL: "https://acme.my.salesforce.com/003A", Org: "001B", Exact: true}
	sfAccount := webhook.Match{Connector: "salesforce", Entity: "Account", Type: "entity", ID: "001B", Name: "Acme Oy", Exact: true}
	for _, c := range []struct {
		name    string
		d       crmsync.Delivery
		user    *webhook.CRMUser
		matches []webhook.Match
	}{
		{"mapped user, template, two matches",
			crmsync.Delivery{Activity: crmtest.Activity("b-1"), Assignment: crmsync.Assignment{CRMUser: "005X", Email: "alice@example.com", Mapped: true, Template: "IN-1"}},
			&webhook.CRMUser{ID: "005X", Email: "alice@example.com", Mapped: true}, []webhook.Match{sfContact, sfAccount}},
		{"default assignee",
			crmsync.Delivery{Activity: missed, Assignment: crmsync.Assignment{CRMUser: "005D", Template: "MISS"}},
			&webhook.CRMUser{ID: "005D"}, []webhook.Match{sfContact, sfAccount}},
		{"e-mail only",
			crmsync.Delivery{Activity: out, Assignment: crmsync.Assignment{Email: "bob@example.com"}},
			&webhook.CRMUser{Email: "bob@example.com"}, []webhook.Match{sfContact, sfAccount}},
		{"nobody, internal call", crmsync.Delivery{Activity: internal}, nil, nil},
		{"no match", crmsync.Delivery{Activity: unknown}, nil, nil},
	} {
		if err := w.Push(context.Background(), c.d); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := s.got[c.d.Activity.ID]
		if !reflect.DeepEqual(got.CRMUser, c.user) || got.Template != c.d.Assignment.Template || got.WrapUp != nil {
			t.Errorf("%s: crm_user %+v template %q wrap_up %v", c.name, got.CRMUser, got.Template, got.WrapUp)
		}
		if len(got.Matches) != len(c.matches) || (len(c.matches) > 0 && !reflect.DeepEqual(got.Matches, c.matches)) {
			t.Errorf("%s: matches %+v, want %+v", c.name, got.Matches, c.matches)
		}
		if got.ID != c.d.Activity.ID || got.State != c.d.Activity.State || !got.EndedAt.Equal(c.d.Activity.EndedAt) {
			t.Errorf("%s: activity %+v", c.name, got.Activity)
		}
	}
}

// TestBodyIsStillTheActivity: a receiver written for the bare activity
// reads the new body unchanged.
func TestBodyIsStillTheActivity(t *testing.T) {
	a := crmtest.Activity("compat-1")
	b, err := json.Marshal(webhook.Body{Activity: a, Template: "T", CRMUser: &webhook.CRMUser{ID: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	var back bridge.Activity
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, a) {
		t.Errorf("activity read back as %+v, want %+v", back, a)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(b, &keys)
	if string(keys["matches"]) != "[]" || string(keys["wrap_up"]) != "null" || string(keys["template"]) != `"T"` {
		t.Errorf("extras: %s", b)
	}
	checkBody(t, loadSchema(t), b)
}

// FuzzBody: whatever strings an activity and an assignment carry, the
// body is one JSON object the schema accepts and reads back the same.
func FuzzBody(f *testing.F) {
	f.Add("101", "+358401234567", "005X", "a@example.com", "IN", "Matti", true)
	f.Add("", "", "", "", "", "", false)
	f.Add("\xff\x00", "\u2028", "\"}", "{", "\\", "<script>", true)
	s := loadSchema(f)
	f.Fuzz(func(t *testing.T, user, remote, crmUser, email, template, name string, mapped bool) {
		a := crmtest.Activity("fuzz-1")
		a.User, a.RemoteNumber, a.RemoteE164, a.RemoteName = "u"+user, remote, "", name
		body := webhook.Body{Activity: a, Template: template, CRMUser: &webhook.CRMUser{ID: crmUser, Email: email, Mapped: mapped},
			Matches: []webhook.Match{{Connector: "c", Entity: "e", Type: "person", ID: "i" + crmUser, Name: name}}}
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range s.validate(b) {
			t.Errorf("%s\nbody: %s", e, b)
		}
		var back webhook.Body
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.CRMUser == nil || back.Template != json2(template) || back.CRMUser.ID != json2(crmUser) || back.User != json2("u"+user) {
			t.Errorf("read back %+v", back)
		}
	})
}

// json2 is s after a JSON round trip (invalid UTF-8 becomes U+FFFD).
func json2(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// TestLostAnswer: the receiver stores the activity, the connection drops
// before its 2xx; the push fails retryable, the retry carries the same
// Idempotency-Key and body, and a receiver that keeps keys stores it once.
func TestLostAnswer(t *testing.T) {
	s := newSink(t, secret)
	loser := &fakehttp.Loser{Handler: s}
	srv := httptest.NewServer(loser)
	defer srv.Close()
	w, err := webhook.New("hook", webhook.Config{URL: srv.URL, Secret: secret}, webhook.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	d := crmsync.Delivery{Activity: crmtest.Activity("lost-1"), Assignment: crmsync.Assignment{CRMUser: "005X", Template: "IN"}}
	loser.LoseNext("POST", "/", 1)
	err = w.Push(context.Background(), d)
	if err == nil || loser.Lost() != 1 {
		t.Fatalf("lost answer: err %v, lost %d", err, loser.Lost())
	}
	if !crmerr.IsRetryable(err) {
		t.Fatalf("lost answer not retryable: %v", err)
	}
	if err := w.Push(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hits["lost-1"] != 2 || len(s.got) != 1 || s.got["lost-1"].Template != "IN" {
		t.Errorf("hits %d, stored %d", s.hits["lost-1"], len(s.got))
	}
}
