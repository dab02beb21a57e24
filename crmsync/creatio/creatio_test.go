package creatio_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/creatio"
	"github.com/callbridge/callbridge/crmsync/creatio/fakecreatio"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	clientID     = "callbridge-integration"
	clientSecret = "creatio-secret-4d1f8b2e"
	password     = "Supervisor-Pa55!word"
)

type env struct {
	fake                       *fakecreatio.Server
	srv                        *httptest.Server
	clock                      *crmtest.Clock
	alice, bob, carol, owner   string
	contact, account, account2 string
}

func newEnv(t testing.TB, opts fakecreatio.Options) *env {
	t.Helper()
	e := &env{clock: crmtest.NewClock()}
	opts.ClientID, opts.ClientSecret, opts.Username, opts.Password = clientID, clientSecret, "Supervisor", password
	if opts.Now == nil {
		opts.Now = e.clock.Now
	}
	e.fake = fakecreatio.New(opts)
	e.srv = httptest.NewServer(e.fake)
	t.Cleanup(e.srv.Close)
	e.alice = e.fake.AddUser("Alice", "Alice@Example.com", true)
	e.bob = e.fake.AddUser("Bob", "bob@example.com", true)
	e.carol = e.fake.AddUser("Carol", "carol@example.com", false)
	e.owner = e.fake.AddUser("Call owner", "calls@example.com", true)
	e.account = e.fake.Add("Account", fakecreatio.Row{"Name": "Acme Oy", "Phone": "+358 9 876 5432"})
	e.account2 = e.fake.Add("Account", fakecreatio.Row{"Name": "Other Oy", "Phone": "+358 9 111 2222"})
	e.contact = e.fake.Add("Contact", fakecreatio.Row{"Name": "Maija Meikäläinen", "MobilePhone": "040 123 4567", "AccountId": e.account})
	return e
}

func (e *env) config() creatio.Config {
	return creatio.Config{URL: e.srv.URL, IdentityURL: e.srv.URL, ClientID: clientID, ClientSecret: clientSecret, Write: creatio.WriteBoth, Timeout: 5 * time.Second}
}

func (e *env) forms() creatio.Config {
	return creatio.Config{URL: e.srv.URL, Auth: creatio.AuthForms, Username: "Supervisor", Password: password, Write: creatio.WriteBoth, Timeout: 5 * time.Second}
}

func (e *env) connector(t testing.TB, cfg creatio.Config, opts creatio.Options) *creatio.Creatio {
	t.Helper()
	if opts.Now == nil {
		opts.Now = e.clock.Now
	}
	k, err := creatio.New("creatio", cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// count is how many of id's records (a Call and an Activity) exist.
func (e *env) count(id string) int {
	n := 0
	for _, w := range []struct{ table, kind string }{{"Call", "call"}, {"Activity", "activity"}} {
		if _, ok := e.fake.Get(w.table, creatio.RecordID(id, w.kind)); ok {
			n++
		}
	}
	return n
}

func recognizer(t testing.TB, k *creatio.Creatio) *phoneindex.Integration {
	return crmtest.Recognizer(t, "creatio", k, creatio.DefaultEntities())
}

func TestConformance(t *testing.T) {
	for _, mode := range []string{creatio.AuthOAuth, creatio.AuthForms} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, fakecreatio.Options{Now: time.Now})
			crmtest.Run(t, crmtest.Harness{
				New: func(t *testing.T, base string, log zerolog.Logger) crmtest.Connector {
					cfg := e.config()
					if mode == creatio.AuthForms {
						cfg = e.forms()
					}
					cfg.URL, cfg.IdentityURL = base, base
					if mode == creatio.AuthForms {
						cfg.IdentityURL = ""
					}
					k, err := creatio.New("creatio", cfg, creatio.Options{Logger: log})
					if err != nil {
						t.Fatal(err)
					}
					return k
				},
				Fake: e.fake,
				// Ids are chosen by callbridge, so a second row is impossible;
				// the suite's three pushes must each succeed all the same.
				Count:    func(id string) int { return e.count(id) / 2 },
				Secrets:  map[string][]string{creatio.AuthOAuth: {clientSecret}, creatio.AuthForms: {password}}[mode],
				Entities: creatio.DefaultEntities(),
			})
		})
	}
}

func TestRecords(t *testing.T) {
	e := newEnv(t, fakecreatio.Options{})
	cfg := e.config()
	cfg.DefaultOwner = e.owner
	k := e.connector(t, cfg, creatio.Options{Logger: zerolog.Nop()})
	k2 := e.connector(t, cfg, creatio.Options{Logger: zerolog.Nop(), Recognizer: recognizer(t, k)})
	if _, err := k2.SyncUsers(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	in := crmtest.Activity("in")
	crmtest.Push(t, k2, in, crmsync.Assignment{Email: "alice@example.com", Template: "SUPPORT"})
	call, _ := e.fake.Get("Call", creatio.RecordID("in", "call"))
	act, _ := e.fake.Get("Activity", creatio.RecordID("in", "activity"))
	for k, want := range map[string]any{"Caption": "Call from Maija Meikäläinen", "DirectionId": "1d96a65f-2131-4916-8825-2d142b1000b2",
		"CallerId": "+358401234567", "CalledId": "+35850111222", "Duration": int64(4), "TalkTime": int64(2), "IntegrationId": "1763741470.0",
		"ContactId": e.contact, "AccountId": e.account, "UsrCallbridgeTemplate": "SUPPORT", "StartDate": "2026-11-21T16:11:10Z"} {
		if fmt.Sprint(call[k]) != fmt.Sprint(want) {
			t.Errorf("Call.%s = %v, want %v", k, call[k], want)
		}
	}
	for k, want := range map[string]any{"Title": "Call from Maija Meikäläinen", "OwnerId": e.alice, "StatusId": "4bdbb88f-58e6-df11-971b-001d60e938c6",
		"ActivityCategoryId": "03df85bf-6b19-4dea-8463-d5d49b80bb28", "ContactId": e.contact, "AccountId": e.account} {
		if fmt.Sprint(act[k]) != fmt.Sprint(want) {
			t.Errorf("Activity.%s = %v, want %v", k, act[k], want)
		}
	}
	miss := crmtest.Call("miss", bridge.Outbound, bridge.Unaccepted, "+358509999999")
	crmtest.Push(t, k2, miss, crmsync.Assignment{Email: "carol@example.com"})
	act, _ = e.fake.Get("Activity", creatio.RecordID("miss", "activity"))
	call, _ = e.fake.Get("Call", creatio.RecordID("miss", "call"))
	if act["OwnerId"] != e.owner || act["StatusId"] != "384d4b84-58e6-df11-971b-001d60e938c6" || call["DirectionId"] != "53f71b5b-5d46-4ee2-8ea4-a4f8fc76a8ae" {
		t.Errorf("unanswered outgoing: %v %v", act, call)
	}
	// write: call only writes the Call.
	cfg.Write = creatio.WriteCall
	crmtest.Push(t, e.connector(t, cfg, creatio.Options{Logger: zerolog.Nop()}), crmtest.Activity("only"), crmsync.Assignment{})
	if e.count("only") != 1 {
		t.Errorf("write call: %d records", e.count("only"))
	}
}

// Exactly once: the Id is chosen by callbridge, so a retry after a lost
// answer finds the row, by Id or by the refused duplicate.
func TestLostAnswer(t *testing.T) {
	for _, cfgOf := range []func(*env) creatio.Config{(*env).config, (*env).forms} {
		e := newEnv(t, fakecreatio.Options{})
		k := e.connector(t, cfgOf(e), creatio.Options{Logger: zerolog.Nop()})
		a := crmtest.Activity("lost-1")
		e.fake.LoseNext("POST", "/0/odata/Call", 1)
		if err := k.Push(context.Background(), crmtest.DeliveryOf(a)); err == nil || crmerr.IsPermanent(err) {
			t.Fatalf("lost answer: %v", err)
		}
		crmtest.Push(t, k, a, crmsync.Assignment{})
		// Another process, the job fresh: no lookup, the duplicate Id is
		// refused and recognised.
		crmtest.Push(t, e.connector(t, cfgOf(e), creatio.Options{Logger: zerolog.Nop()}), a, crmsync.Assignment{})
		if n := e.fake.Count("Call"); n != 1 || e.count(a.ID) != 2 {
			t.Fatalf("%d calls, %d records", n, e.count(a.ID))
		}
	}
}

func TestSyncUsers(t *testing.T) {
	e := newEnv(t, fakecreatio.Options{})
	k := e.connector(t, e.config(), creatio.Options{Logger: zerolog.Nop()})
	rep, err := k.SyncUsers(context.Background(), []bridge.User{
		{Extension: "101", Email: "alice@example.com"}, {Extension: "102", Email: "Bob@example.com"},
		{Extension: "103", Email: "carol@example.com"}, {Extension: "104"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.CRMUsers != 4 || rep.Mapped["101"] != "email" || rep.Mapped["102"] != "email" || len(rep.Unmapped) != 2 ||
		rep.Unmapped[0].Reason != "CRM user with e-mail carol@example.com is inactive" {
		t.Fatalf("report %+v", rep)
	}
}

func TestRecognitionSync(t *testing.T) {
	e := newEnv(t, fakecreatio.Options{})
	k := e.connector(t, e.config(), creatio.Options{Logger: zerolog.Nop()})
	in := recognizer(t, k)
	m, ok := in.Lookup("+358401234567")
	if !ok || m.Best.ID != e.contact || m.Best.Org != e.account || m.Best.URL != e.srv.URL+"/0/Shell/#Card/Contacts_FormPage/edit/"+e.contact {
		t.Fatalf("contact: %+v %v", m.Best, ok)
	}
	e.clock.Add(time.Hour)
	e.fake.Add("Account", fakecreatio.Row{"Name": "New Oy", "Phone": "+358 20 555 0000"})
	e.fake.Delete("Account", e.account2)
	crmtest.Resync(t, in, "+358205550000", "a new account", "+35891112222", "a deleted account")
}

// An expired token or session is renewed once; a refused login is
// unauthorized and quiet about the password.
func TestExpiryAndRefusedLogin(t *testing.T) {
	e := newEnv(t, fakecreatio.Options{})
	for _, cfg := range []creatio.Config{e.config(), e.forms()} {
		k := e.connector(t, cfg, creatio.Options{Logger: zerolog.Nop()})
		crmtest.Push(t, k, crmtest.Activity("x1-"+cfg.Auth), crmsync.Assignment{})
		_, _, before := e.fake.Stats()
		e.fake.Expire()
		crmtest.Push(t, k, crmtest.Activity("x2-"+cfg.Auth), crmsync.Assignment{})
		if _, _, after := e.fake.Stats(); after-before != 1 {
			t.Errorf("%s: %d new logins, want 1", cfg.Auth, after-before)
		}
	}
	bad := e.forms()
	bad.Password = "wrong-Pa55word"
	err := e.connector(t, bad, creatio.Options{Logger: zerolog.Nop()}).Push(context.Background(), crmtest.Delivery("x3"))
	if !crmerr.IsUnauthorized(err) || strings.Contains(err.Error(), "wrong-Pa55word") || !strings.Contains(err.Error(), "Invalid username or password") {
		t.Fatalf("refused login: %v", err)
	}
}

func TestThrottled(t *testing.T) {
	e := newEnv(t, fakecreatio.Options{Limit: 2, Window: time.Minute})
	k := e.connector(t, e.config(), creatio.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, k, crmtest.Activity("t1"), crmsync.Assignment{})
	err := k.Push(context.Background(), crmtest.Delivery("t2"))
	if d, ok := crmerr.RetryAfter(err); crmerr.IsPermanent(err) || !ok || d < 30*time.Second {
		t.Fatalf("throttled: %v", err)
	}
}

func TestPermanentErrors(t *testing.T) {
	e := newEnv(t, fakecreatio.Options{ActivityColumns: []string{}, CallColumns: []string{}}) // no template column
	k := e.connector(t, e.config(), creatio.Options{Logger: zerolog.Nop()})
	err := k.Push(context.Background(), crmsync.Delivery{Activity: crmtest.Activity("p1"), Assignment: crmsync.Assignment{Template: "VIP"}})
	if !crmerr.IsPermanent(err) || !strings.Contains(err.Error(), "UsrCallbridgeTemplate") {
		t.Errorf("a missing column: %v", err)
	}
	err = k.Push(context.Background(), crmsync.Delivery{Activity: crmtest.Activity("p2"),
		Assignment: crmsync.Assignment{CRMUser: "11111111-2222-4333-8444-555555555555", Mapped: true}})
	if !crmerr.IsPermanent(err) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("an owner that does not exist: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	err := creatio.Config{URL: "ftp://x", ODataPath: "odata", Auth: "ntlm", Write: "note", DefaultOwner: "alice", TemplateField: "a b",
		MaxConcurrency: 21, Subjects: creatio.Subjects{Incoming: "{{.X}}"}}.Validate()
	for _, k := range []string{"url:", "odata_path:", "auth:", "write:", "default_owner:", "template_field:", "max_concurrency:", "subjects.incoming:"} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("no problem named %s in:\n%v", k, err)
		}
	}
	err = creatio.Config{URL: "https://x.creatio.com", Auth: creatio.AuthForms, ClientSecret: "s"}.Validate()
	for _, k := range []string{"username:", "password:", "client_secret: not for auth forms"} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("no problem named %s in:\n%v", k, err)
		}
	}
	if err := (creatio.Config{URL: "https://x.creatio.com", IdentityURL: "https://x-is.creatio.com", ClientID: "c", ClientSecret: "s"}).Validate(); err != nil {
		t.Error(err)
	}
}
