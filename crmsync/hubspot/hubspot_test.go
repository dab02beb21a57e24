package hubspot_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/hubspot"
	"github.com/callbridge/callbridge/crmsync/hubspot/fakehubspot"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "pat-eu1-3f6c2a1e-0b9d-4c7e-8a5f-1d2e3c4b5a69"

type env struct {
	fake                       *fakehubspot.Server
	srv                        *httptest.Server
	clock                      *crmtest.Clock
	alice, bob, carol, owner   string
	contact, company, company2 string
}

func newEnv(t testing.TB, opts fakehubspot.Options) *env {
	t.Helper()
	e := &env{clock: crmtest.NewClock()}
	if opts.Tokens == nil {
		opts.Tokens = []string{token}
	}
	if opts.Now == nil {
		opts.Now = e.clock.Now
	}
	e.fake = fakehubspot.New(opts)
	e.srv = httptest.NewServer(e.fake)
	t.Cleanup(e.srv.Close)
	e.alice = e.fake.AddOwner("Alice@Example.com", "Alice", "A", false)
	e.bob = e.fake.AddOwner("bob@example.com", "Bob", "B", false)
	e.carol = e.fake.AddOwner("carol@example.com", "Carol", "C", true)
	e.owner = e.fake.AddOwner("calls@example.com", "Call", "Owner", false)
	e.company = e.fake.AddRecord("companies", map[string]string{"name": "Acme Oy", "phone": "+358 9 876 5432"})
	e.company2 = e.fake.AddRecord("companies", map[string]string{"name": "Other Oy", "phone": "+358 9 111 2222"})
	e.contact = e.fake.AddRecord("contacts", map[string]string{"firstname": "Maija", "lastname": "Meikäläinen",
		"mobilephone": "040 123 4567", "associatedcompanyid": e.company})
	return e
}

func (e *env) config() hubspot.Config {
	return hubspot.Config{URL: e.srv.URL, Token: token, Timeout: 5 * time.Second}
}

func (e *env) connector(t testing.TB, cfg hubspot.Config, opts hubspot.Options) *hubspot.HubSpot {
	t.Helper()
	if opts.Now == nil {
		opts.Now = e.clock.Now
	}
	h, err := hubspot.New("hs", cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (e *env) count(id string) int { return e.fake.Count("callbridge_activity_id", id) }

func (e *env) call(id string) (fakehubspot.Call, bool) {
	for _, c := range e.fake.Calls() {
		if c.Properties["callbridge_activity_id"] == id {
			return c, true
		}
	}
	return fakehubspot.Call{}, false
}

func recognizer(t testing.TB, h *hubspot.HubSpot) *phoneindex.Integration {
	return crmtest.Recognizer(t, "hs", h, hubspot.DefaultEntities())
}

func TestConformance(t *testing.T) {
	// The wall clock: the suite's Retry-After dates are real ones.
	e := newEnv(t, fakehubspot.Options{IndexLag: time.Nanosecond, Now: time.Now})
	crmtest.Run(t, crmtest.Harness{
		New: func(t *testing.T, base string, log zerolog.Logger) crmtest.Connector {
			cfg := e.config()
			cfg.URL = base
			h, err := hubspot.New("hs", cfg, hubspot.Options{Logger: log, Now: time.Now})
			if err != nil {
				t.Fatal(err)
			}
			return h
		},
		Fake:     e.fake,
		Count:    e.count,
		Secrets:  []string{token},
		Entities: hubspot.DefaultEntities(),
	})
}

func TestCallProperties(t *testing.T) {
	e := newEnv(t, fakehubspot.Options{})
	cfg := e.config()
	cfg.DefaultOwner = e.owner
	h := e.connector(t, cfg, hubspot.Options{Logger: zerolog.Nop()})
	h2 := e.connector(t, cfg, hubspot.Options{Logger: zerolog.Nop(), Recognizer: recognizer(t, h)})
	if _, err := h2.SyncUsers(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	out := crmtest.Call("out", bridge.Outbound, bridge.Unaccepted, "+35898765432")
	out.Reason = bridge.ReasonBusy
	tests := []struct {
		name  string
		a     bridge.Activity
		as    crmsync.Assignment
		want  map[string]string
		assoc map[int][]string
	}{
		{"inbound answered from a contact: on the contact and its company", crmtest.Activity("in"),
			crmsync.Assignment{Email: "alice@example.com", Template: "SUPPORT"},
			map[string]string{"hs_call_direction": "INBOUND", "hs_call_status": "COMPLETED", "hs_call_duration": "2000",
				"hs_call_from_number": "+358401234567", "hs_call_to_number": "+35850111222", "hubspot_owner_id": e.alice,
				"hs_call_title": "Call from Maija Meikäläinen", "hs_timestamp": "2026-11-21T16:11:10.009Z", "callbridge_template": "SUPPORT"},
			map[int][]string{194: {e.contact}, 182: {e.company}}},
		{"missed", crmtest.Call("miss", bridge.Inbound, bridge.Missed, "+358509999999"), crmsync.Assignment{CRMUser: e.bob, Mapped: true},
			map[string]string{"hs_call_status": "MISSED", "hs_call_duration": "0", "hubspot_owner_id": e.bob}, map[int][]string{}},
		{"outbound busy to a company, default owner", out, crmsync.Assignment{Email: "carol@example.com"},
			map[string]string{"hs_call_direction": "OUTBOUND", "hs_call_status": "BUSY", "hs_call_from_number": "101",
				"hs_call_to_number": "+35898765432", "hubspot_owner_id": e.owner}, map[int][]string{182: {e.company}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crmtest.Push(t, h2, tt.a, tt.as)
			c, ok := e.call(tt.a.ID)
			if !ok {
				t.Fatal("no call")
			}
			for k, want := range tt.want {
				if got := c.Properties[k]; got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if fmt.Sprint(c.Associations) != fmt.Sprint(tt.assoc) {
				t.Errorf("associations %v, want %v", c.Associations, tt.assoc)
			}
			if !strings.Contains(c.Properties["hs_call_body"], "Call id: 1763741470.0") {
				t.Errorf("body %q", c.Properties["hs_call_body"])
			}
		})
	}
}

// A lost answer: the retry first searches for the marker; while the
// search index may not show the call yet, it waits rather than create a
// second one.
func TestLostAnswerSearchesTheMarker(t *testing.T) {
	e := newEnv(t, fakehubspot.Options{IndexLag: 5 * time.Second})
	h := e.connector(t, e.config(), hubspot.Options{Logger: zerolog.Nop()})
	a := crmtest.Activity("lost-1")
	e.fake.LoseNext("POST", "/crm/v3/objects/calls", 1)
	if err := h.Push(context.Background(), crmtest.DeliveryOf(a)); err == nil || crmerr.IsPermanent(err) {
		t.Fatalf("lost answer: %v", err)
	}
	if e.count(a.ID) != 1 {
		t.Fatal("the fake did not create the call")
	}
	// Straight away: the index does not show it; no create, a wait.
	err := h.Push(context.Background(), crmtest.DeliveryOf(a))
	d, ok := crmerr.RetryAfter(err)
	if err == nil || !ok || d <= 0 || d > 30*time.Second {
		t.Fatalf("retry within the index lag: %v (wait %v)", err, d)
	}
	e.clock.Add(d)
	crmtest.Push(t, h, a, crmsync.Assignment{})
	if n := e.count(a.ID); n != 1 {
		t.Fatalf("%d calls after the retry", n)
	}
	// A create that never reached HubSpot is made once the wait is over.
	b := crmtest.Activity("lost-2")
	e.fake.LoseNext("POST", "/crm/v3/objects/calls", 1)
	h.Push(context.Background(), crmtest.DeliveryOf(b))
	e.fake.Calls() // the fake created it; now make another process retry an old job
	e.clock.Add(3 * time.Minute)
	other := e.connector(t, e.config(), hubspot.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, other, b, crmsync.Assignment{})
	if n := e.count(b.ID); n != 1 {
		t.Fatalf("another process: %d calls", n)
	}
}

func TestBatch(t *testing.T) {
	e := newEnv(t, fakehubspot.Options{IndexLag: time.Second})
	h := e.connector(t, e.config(), hubspot.Options{Logger: zerolog.Nop()})
	ds := crmtest.Backlog("b", 250)
	before, _ := e.fake.Stats()
	for i, err := range h.PushBatch(context.Background(), ds) {
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
	}
	if after, _ := e.fake.Stats(); after-before != 3 {
		t.Errorf("250 calls took %d requests, want 3", after-before)
	}
	// One refused input fails HubSpot's whole batch: the others are still
	// written, one by one.
	more := crmtest.Backlog("c", 5)
	more[2].Assignment = crmsync.Assignment{CRMUser: "999", Mapped: true}
	errs := h.PushBatch(context.Background(), more)
	for i, err := range errs {
		if (i == 2) != (err != nil) || (i == 2 && (!crmerr.IsPermanent(err) || !strings.Contains(err.Error(), "INVALID_OWNER_ID"))) {
			t.Errorf("%d: %v", i, err)
		}
	}
	// A lost batch answer: the retry searches, waits out the index, and
	// writes nothing twice.
	lost := crmtest.Backlog("d", 120)
	e.fake.LoseNext("POST", "/batch/create", 1)
	pending := lost
	for round := 0; len(pending) > 0; round++ {
		if round > 3 {
			t.Fatalf("%d activities still pending", len(pending))
		}
		var again []crmsync.Delivery
		var wait time.Duration
		for i, err := range h.PushBatch(context.Background(), pending) {
			if err != nil { // as the workers do: only what failed again
				again = append(again, pending[i])
				if d, ok := crmerr.RetryAfter(err); ok && d > wait {
					wait = d
				}
			}
		}
		pending = again
		e.clock.Add(wait + time.Second)
	}
	for _, d := range append(append(ds, lost...), more...) {
		want := 1
		if d.Activity.ID == more[2].Activity.ID {
			want = 0
		}
		if n := e.count(d.Activity.ID); n != want {
			t.Fatalf("%s: %d calls", d.Activity.ID, n)
		}
	}
}

func TestSyncUsers(t *testing.T) {
	e := newEnv(t, fakehubspot.Options{})
	h := e.connector(t, e.config(), hubspot.Options{Logger: zerolog.Nop()})
	rep, err := h.SyncUsers(context.Background(), []bridge.User{
		{Extension: "101", Email: "alice@example.com"},
		{Extension: "102", Email: "BOB@example.com"},
		{Extension: "103", Email: "carol@example.com"},
		{Extension: "104"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Carol's owner is archived: the Owners API does not list her.
	if rep.CRMUsers != 3 || rep.Mapped["101"] != "email" || rep.Mapped["102"] != "email" || len(rep.Unmapped) != 2 ||
		rep.Unmapped[0].Reason != "no CRM user with e-mail carol@example.com" {
		t.Fatalf("report %+v", rep)
	}
}

func TestRecognitionSync(t *testing.T) {
	e := newEnv(t, fakehubspot.Options{IndexLag: time.Second})
	h := e.connector(t, e.config(), hubspot.Options{Logger: zerolog.Nop()})
	in := recognizer(t, h)
	m, ok := in.Lookup("+358401234567")
	if !ok || m.Best.ID != e.contact || m.Best.Name != "Maija Meikäläinen" || m.Best.Org != e.company ||
		m.Best.URL != "https://app-eu1.hubspot.com/contacts/14567890/record/0-1/"+e.contact {
		t.Fatalf("contact: %+v %v", m.Best, ok)
	}
	e.clock.Add(time.Hour)
	e.fake.AddRecord("companies", map[string]string{"name": "New Oy", "phone": "+358 20 555 0000"})
	e.fake.Archive("companies", e.company2)
	e.clock.Add(2 * time.Second) // the index catches up
	crmtest.Resync(t, in, "+358205550000", "a new company", "+35891112222", "an archived company")
}

func TestRateLimits(t *testing.T) {
	e := newEnv(t, fakehubspot.Options{TenSecondly: 1})
	h := e.connector(t, e.config(), hubspot.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, h, crmtest.Activity("r1"), crmsync.Assignment{})
	err := h.Push(context.Background(), crmtest.Delivery("r2"))
	if d, ok := crmerr.RetryAfter(err); crmerr.IsPermanent(err) || !ok || d != 10*time.Second || !strings.Contains(err.Error(), "TEN_SECONDLY_ROLLING") {
		t.Fatalf("burst limit: %v", err)
	}
	e = newEnv(t, fakehubspot.Options{Daily: 1})
	h = e.connector(t, e.config(), hubspot.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, h, crmtest.Activity("d1"), crmsync.Assignment{})
	err = h.Push(context.Background(), crmtest.Delivery("d2"))
	if d, ok := crmerr.RetryAfter(err); crmerr.IsPermanent(err) || !ok || d != time.Hour || !strings.Contains(err.Error(), "DAILY") {
		t.Fatalf("daily limit: %v", err)
	}
}

// A rotated private app token: unauthorized until the file is read again.
func TestRotatedToken(t *testing.T) {
	e := newEnv(t, fakehubspot.Options{})
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte(token+"\n"), 0o600)
	cfg := e.config()
	cfg.Token, cfg.TokenFile = "", file
	h := e.connector(t, cfg, hubspot.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, h, crmtest.Activity("t1"), crmsync.Assignment{})
	const next = "pat-eu1-99999999-aaaa-4bbb-8ccc-dddddddddddd"
	e.fake.Rotate(token, next)
	err := h.Push(context.Background(), crmtest.Delivery("t2"))
	if !crmerr.IsUnauthorized(err) || !strings.Contains(err.Error(), "INVALID_AUTHENTICATION") || strings.Contains(err.Error(), token) {
		t.Fatalf("rotated token: %v", err)
	}
	os.WriteFile(file, []byte(next+"\n"), 0o600)
	if err := h.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	crmtest.Push(t, h, crmtest.Activity("t2"), crmsync.Assignment{})
}

func TestPermanentErrors(t *testing.T) {
	e := newEnv(t, fakehubspot.Options{CallProperties: []string{"callbridge_activity_id"}}) // no template property
	tests := []struct {
		name string
		cfg  func(*hubspot.Config)
		as   crmsync.Assignment
		code string
	}{
		{"a template property the account lacks", nil, crmsync.Assignment{Template: "VIP"}, "PROPERTY_DOESNT_EXIST"},
		{"an archived owner", nil, crmsync.Assignment{CRMUser: e.carol, Mapped: true}, "INVALID_OWNER_ID"},
		{"a marker property the account lacks", func(c *hubspot.Config) { c.MarkerProperty = "cb_id" }, crmsync.Assignment{}, "PROPERTY_DOESNT_EXIST"},
	}
	for i, tt := range tests {
		cfg := e.config()
		if tt.cfg != nil {
			tt.cfg(&cfg)
		}
		h := e.connector(t, cfg, hubspot.Options{Logger: zerolog.Nop()})
		err := h.Push(context.Background(), crmsync.Delivery{Activity: crmtest.Activity(fmt.Sprint("p", i)), Assignment: tt.as})
		if !crmerr.IsPermanent(err) || !strings.Contains(err.Error(), tt.code) {
			t.Errorf("%s: %v, want permanent %s", tt.name, err, tt.code)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	err := hubspot.Config{URL: "ftp://x", Token: "a", TokenFile: "b", PortalID: "eu1", DefaultOwner: "alice",
		MarkerProperty: "hs_call_external_id", TemplateProperty: "Bad Name", MaxConcurrency: 21, BatchSize: 101,
		Subjects: hubspot.Subjects{Outgoing: "{{.Nope}}"}}.Validate()
	for _, k := range []string{"token:", "url:", "portal_id:", "default_owner:", "marker_property:", "template_property:", "max_concurrency:", "batch_size:", "subjects.outgoing:"} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("no problem named %s in:\n%v", k, err)
		}
	}
	if err := (hubspot.Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "token: required") {
		t.Errorf("empty: %v", err)
	}
	if err := (hubspot.Config{Token: "pat"}).Validate(); err != nil {
		t.Error(err)
	}
}
