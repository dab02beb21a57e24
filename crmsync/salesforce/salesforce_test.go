package salesforce_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
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
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/crmsync/salesforce"
	"github.com/callbridge/callbridge/crmsync/salesforce/fakesalesforce"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	clientID = "3MVG9fakeConsumerKey.callbridge"
	secret   = "sf-secret-8F3A2C91D0E4"
)

// clock is a settable test clock; it starts 5 s after the sample call
// ended, so the sample activity is fresh.
// env is a fake org with users and records, behind a test server.
type env struct {
	fake                                  *fakesalesforce.Server
	srv                                   *httptest.Server
	clock                                 *crmtest.Clock
	alice, bob, carol, owner              string
	contact, account, lead, convertedLead string
	otherAccount                          string
}

func newEnv(t testing.TB, opts fakesalesforce.Options) *env {
	t.Helper()
	e := &env{clock: crmtest.NewClock()}
	opts.ClientID, opts.ClientSecret = clientID, secret
	if opts.Now == nil {
		opts.Now = e.clock.Now
	}
	if opts.TaskFields == nil {
		opts.TaskFields = map[string]string{"Callbridge_Template__c": "string"}
	}
	e.fake = fakesalesforce.New(opts)
	e.srv = httptest.NewServer(e.fake)
	t.Cleanup(e.srv.Close)
	e.alice = e.fake.AddUser("Alice@Example.com", "Alice", true)
	e.bob = e.fake.AddUser("bob@example.com", "Bob", true)
	e.carol = e.fake.AddUser("carol@example.com", "Carol", false)
	e.owner = e.fake.AddUser("calls@example.com", "Call owner", true)
	e.account = e.fake.AddRecord("Account", fakesalesforce.Record{"Name": "Acme Oy", "Phone": "+358 9 876 5432"})
	e.otherAccount = e.fake.AddRecord("Account", fakesalesforce.Record{"Name": "Other Oy", "Phone": "+358 9 111 2222"})
	e.contact = e.fake.AddRecord("Contact", fakesalesforce.Record{"FirstName": "Maija", "LastName": "Meikäläinen",
		"MobilePhone": "040 123 4567", "AccountId": e.account})
	e.lead = e.fake.AddRecord("Lead", fakesalesforce.Record{"FirstName": "Lauri", "LastName": "Liidi", "Company": "Prospect Oy",
		"Phone": "050 765 4321", "IsConverted": false})
	e.convertedLead = e.fake.AddRecord("Lead", fakesalesforce.Record{"FirstName": "Old", "LastName": "Lead", "Company": "Acme Oy",
		"Phone": "040 123 4567", "IsConverted": true})
	return e
}

func (e *env) config() salesforce.Config {
	return salesforce.Config{URL: e.srv.URL, ClientID: clientID, ClientSecret: secret, Timeout: 5 * time.Second}
}

func (e *env) connector(t testing.TB, cfg salesforce.Config, opts salesforce.Options) *salesforce.Salesforce {
	t.Helper()
	if opts.Now == nil {
		opts.Now = e.clock.Now
	}
	s, err := salesforce.New("sf", cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// recognizer indexes the fake's records as the daemon would.
func recognizer(t testing.TB, s *salesforce.Salesforce) *phoneindex.Integration {
	return crmtest.Recognizer(t, "sf", s, salesforce.DefaultEntities())
}

func TestConformance(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{})
	crmtest.Run(t, crmtest.Harness{
		New: func(t *testing.T, base string, log zerolog.Logger) crmtest.Connector {
			cfg := e.config()
			cfg.URL = base
			s, err := salesforce.New("sf", cfg, salesforce.Options{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Fake:     e.fake,
		Count:    e.fake.Count,
		Secrets:  []string{secret},
		Entities: salesforce.DefaultEntities(),
	})
}

func TestTaskFields(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{})
	cfg := e.config()
	cfg.DefaultOwner = e.owner
	cfg.MissedStatus = "Not Started"
	s := e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
	s2 := e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop(), Recognizer: recognizer(t, s)})
	if _, err := s2.SyncUsers(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	internal := crmtest.Call("internal", bridge.Outbound, bridge.Connected, "102")
	internal.Internal, internal.RemoteE164 = true, ""
	long := crmtest.Activity("long")
	long.TalkSeconds = 61.4
	tests := []struct {
		name string
		a    bridge.Activity
		as   crmsync.Assignment
		want map[string]any
		none []string
	}{
		{"inbound answered from a contact: on the contact and its account", crmtest.Activity("in"),
			crmsync.Assignment{Email: "alice@example.com", Template: "SUPPORT"},
			map[string]any{"TaskSubtype": "Call", "CallType": "Inbound", "Status": "Completed", "CallDurationInSeconds": "2",
				"CallObject": "in", "CallDisposition": "Connected", "WhoId": e.contact, "WhatId": e.account, "OwnerId": e.alice,
				"Subject": "Call from Maija Meikäläinen", "ActivityDate": "2026-11-21", "Callbridge_Template__c": "SUPPORT", "IsClosed": true}, nil},
		{"missed from a lead: no WhatId, a to-do", crmtest.Call("miss", bridge.Inbound, bridge.Missed, "+358507654321"),
			crmsync.Assignment{CRMUser: e.bob, Mapped: true},
			map[string]any{"WhoId": e.lead, "Status": "Not Started", "CallDisposition": "No answer", "OwnerId": e.bob, "CallDurationInSeconds": "0",
				"Subject": "Missed call from Lauri Liidi"}, []string{"WhatId", "Callbridge_Template__c"}},
		{"outbound to an account", crmtest.Call("out", bridge.Outbound, bridge.Connected, "+35898765432"), crmsync.Assignment{},
			map[string]any{"WhatId": e.account, "CallType": "Outbound", "OwnerId": e.owner, "Subject": "Call to Acme Oy"}, []string{"WhoId"}},
		{"an inactive user's e-mail: the default owner", crmtest.Call("inactive", bridge.Inbound, bridge.Connected, "+358509999999"),
			crmsync.Assignment{Email: "carol@example.com"}, map[string]any{"OwnerId": e.owner, "Subject": "Call from +358509999999"}, []string{"WhoId", "WhatId"}},
		{"internal", internal, crmsync.Assignment{}, map[string]any{"CallType": "Internal"}, []string{"WhoId"}},
		{"61.4 s of talk", long, crmsync.Assignment{}, map[string]any{"CallDurationInSeconds": "61"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crmtest.Push(t, s2, tt.a, tt.as)
			task, ok := e.fake.Task(tt.a.ID)
			if !ok {
				t.Fatal("no Task")
			}
			for k, want := range tt.want {
				if got := fmt.Sprint(task[k]); got != fmt.Sprint(want) {
					t.Errorf("%s = %v, want %v", k, got, want)
				}
			}
			for _, k := range tt.none {
				if v, ok := task[k]; ok {
					t.Errorf("%s set to %v", k, v)
				}
			}
			if d, _ := task["Description"].(string); !strings.Contains(d, "Call id: 1763741470.0") {
				t.Errorf("Description %q", d)
			}
		})
	}
}

// A create whose answer is lost is looked up by CallObject before it is
// sent again: one Task, whichever process retries.
func TestLostAnswerLookupByCallObject(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{})
	s := e.connector(t, e.config(), salesforce.Options{Logger: zerolog.Nop()})
	a := crmtest.Activity("lost-1")
	e.fake.LoseNext("POST", "/sobjects/Task", 1)
	err := s.Push(context.Background(), crmtest.DeliveryOf(a))
	if err == nil || crmerr.IsPermanent(err) {
		t.Fatalf("lost answer: %v, want a retryable error", err)
	}
	if n := e.fake.Count(a.ID); n != 1 {
		t.Fatalf("the fake holds %d Tasks after the lost answer", n)
	}
	before, _, _ := e.fake.Stats()
	crmtest.Push(t, s, a, crmsync.Assignment{})
	if n := e.fake.Count(a.ID); n != 1 {
		t.Fatalf("after the retry: %d Tasks", n)
	}
	if after, _, _ := e.fake.Stats(); after-before != 1 {
		t.Errorf("the retry cost %d requests, want 1 (the lookup)", after-before)
	}

	// Another process (a crash, the lease ran out) knows nothing of the
	// lost answer; the job is old by then, which is enough to look first.
	b := crmtest.Activity("lost-2")
	e.fake.LoseNext("POST", "/sobjects/Task", 1)
	if err := s.Push(context.Background(), crmtest.DeliveryOf(b)); err == nil {
		t.Fatal("lost answer not reported")
	}
	e.clock.Add(2 * time.Minute)
	other := e.connector(t, e.config(), salesforce.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, other, b, crmsync.Assignment{})
	if n := e.fake.Count(b.ID); n != 1 {
		t.Fatalf("after another process retried: %d Tasks", n)
	}
}

// With an External ID field, every push is an upsert: a retry after a
// lost answer updates the Task it created.
func TestLostAnswerUpsert(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{TaskFields: map[string]string{"Callbridge_Activity_Id__c": "externalid", "Callbridge_Template__c": "string"}})
	cfg := e.config()
	cfg.ExternalIDField = "Callbridge_Activity_Id__c"
	s := e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
	a := crmtest.Activity("upsert-1")
	e.fake.LoseNext("PATCH", "/sobjects/Task/Callbridge_Activity_Id__c/", 1)
	if err := s.Push(context.Background(), crmtest.DeliveryOf(a)); err == nil || crmerr.IsPermanent(err) {
		t.Fatalf("lost answer: %v", err)
	}
	crmtest.Push(t, s, a, crmsync.Assignment{})
	crmtest.Push(t, s, a, crmsync.Assignment{})
	if n := e.fake.Count(a.ID); n != 1 {
		t.Fatalf("%d Tasks", n)
	}
	task, _ := e.fake.Task(a.ID)
	if task["Callbridge_Activity_Id__c"] != a.ID {
		t.Errorf("external id %v", task["Callbridge_Activity_Id__c"])
	}
	// An old activity is not looked up: the upsert makes it unnecessary.
	e.clock.Add(time.Hour)
	before, _, _ := e.fake.Stats()
	crmtest.Push(t, s, crmtest.Activity("upsert-2"), crmsync.Assignment{})
	if after, _, _ := e.fake.Stats(); after-before != 1 {
		t.Errorf("an upsert of an old activity cost %d requests", after-before)
	}
}

func TestBatch(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{})
	cfg := e.config()
	s := e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
	ds := crmtest.Backlog("b", 450)
	ds[7].Assignment = crmsync.Assignment{CRMUser: e.carol, Mapped: true} // inactive: refused alone
	before, _, _ := e.fake.Stats()
	errs := s.PushBatch(context.Background(), ds)
	after, _, _ := e.fake.Stats()
	if after-before != 3 {
		t.Errorf("450 activities took %d requests, want 3", after-before)
	}
	for i, err := range errs {
		switch {
		case i == 7 && (!crmerr.IsPermanent(err) || !strings.Contains(err.Error(), "INACTIVE_OWNER_OR_USER")):
			t.Errorf("inactive owner: %v", err)
		case i != 7 && err != nil:
			t.Errorf("%d: %v", i, err)
		}
	}
	// A batch whose answer is lost is looked up in one query, then only
	// what is missing is sent.
	more := crmtest.Backlog("c", 150)
	e.fake.LoseNext("POST", "/composite/sobjects", 1)
	for _, err := range s.PushBatch(context.Background(), more) {
		if err == nil || crmerr.IsPermanent(err) {
			t.Fatalf("lost batch answer: %v", err)
		}
	}
	for _, err := range s.PushBatch(context.Background(), append(more, crmtest.Backlog("d", 10)...)) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range append(append(ds, more...), crmtest.Backlog("d", 10)...) {
		want := 1
		if d.Activity.ID == ds[7].Activity.ID {
			want = 0
		}
		if n := e.fake.Count(d.Activity.ID); n != want {
			t.Fatalf("%s: %d Tasks", d.Activity.ID, n)
		}
	}
}

func TestBatchUpsert(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{TaskFields: map[string]string{"Callbridge_Activity_Id__c": "externalid", "Callbridge_Template__c": "string"}})
	cfg := e.config()
	cfg.ExternalIDField = "Callbridge_Activity_Id__c"
	s := e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
	ds := crmtest.Backlog("u", 250)
	e.fake.LoseNext("PATCH", "/composite/sobjects/Task/", 1)
	s.PushBatch(context.Background(), ds)
	for _, err := range s.PushBatch(context.Background(), ds) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range ds {
		if n := e.fake.Count(d.Activity.ID); n != 1 {
			t.Fatalf("%s: %d Tasks", d.Activity.ID, n)
		}
	}
}

func TestSyncUsers(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{QueryBatch: 2})
	s := e.connector(t, e.config(), salesforce.Options{Logger: zerolog.Nop()})
	rep, err := s.SyncUsers(context.Background(), []bridge.User{
		{Extension: "101", Email: "alice@example.com"},
		{Extension: "102", Email: "Bob@Example.com"},
		{Extension: "103", Email: "carol@example.com"},
		{Extension: "104", Email: "nobody@example.com"},
		{Extension: "105"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.CRMUsers != 4 || rep.Mapped["101"] != "email" || rep.Mapped["102"] != "email" || len(rep.Unmapped) != 3 {
		t.Fatalf("report %+v", rep)
	}
	if u := rep.Unmapped[0]; u.Extension != "103" || !strings.Contains(u.Reason, "inactive") {
		t.Errorf("carol: %+v", u)
	}
	// The mapping is used by the next push.
	crmtest.Push(t, s, crmtest.Activity("mapped"), crmsync.Assignment{Email: "ALICE@example.com"})
	if task, _ := e.fake.Task("mapped"); task["OwnerId"] != e.alice {
		t.Errorf("owner %v, want alice", task["OwnerId"])
	}
}

func TestRecognitionSync(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{QueryBatch: 2})
	s := e.connector(t, e.config(), salesforce.Options{Logger: zerolog.Nop()})
	in := recognizer(t, s)
	m, ok := in.Lookup("+358401234567")
	if !ok || m.Best.ID != e.contact || m.Best.Name != "Maija Meikäläinen" || m.Best.Org != e.account ||
		m.Best.URL != e.srv.URL+"/lightning/r/Contact/"+e.contact+"/view" {
		t.Fatalf("contact lookup: %+v %v", m.Best, ok)
	}
	if len(m.Candidates) != 1 {
		t.Errorf("the converted lead with the same number was indexed: %+v", m.Candidates)
	}
	// Incremental: a new account is seen, a deleted one is not dropped
	// until the full sync.
	e.clock.Add(time.Hour)
	e.fake.AddRecord("Account", fakesalesforce.Record{"Name": "New Oy", "Phone": "+358 20 555 0000"})
	e.fake.Delete("Account", e.otherAccount)
	if err := in.Sync(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if _, ok := in.Lookup("+358205550000"); !ok {
		t.Error("incremental sync missed a new account")
	}
	if _, ok := in.Lookup("+35891112222"); !ok {
		t.Error("an incremental sync cannot see deletions, yet the account went")
	}
	if err := in.Sync(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if _, ok := in.Lookup("+35891112222"); ok {
		t.Error("a deleted account survived the full sync")
	}
}

// The org's API allowance: 403 REQUEST_LIMIT_EXCEEDED is a wait, not a
// refusal.
func TestRequestLimitIsRetried(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{RequestLimit: 1, RequestWindow: 24 * time.Hour})
	s := e.connector(t, e.config(), salesforce.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, s, crmtest.Activity("l1"), crmsync.Assignment{})
	err := s.Push(context.Background(), crmtest.Delivery("l2"))
	if err == nil || crmerr.IsPermanent(err) || !strings.Contains(err.Error(), "REQUEST_LIMIT_EXCEEDED") {
		t.Fatalf("over the limit: %v", err)
	}
	if d, ok := crmerr.RetryAfter(err); !ok || d < time.Minute {
		t.Errorf("RetryAfter %v %v: want a long wait", d, ok)
	}
}

// An expired session is refreshed once, silently.
func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{})
	s := e.connector(t, e.config(), salesforce.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, s, crmtest.Activity("t1"), crmsync.Assignment{})
	e.fake.ExpireTokens()
	crmtest.Push(t, s, crmtest.Activity("t2"), crmsync.Assignment{})
	if _, _, tokens := e.fake.Stats(); tokens != 2 {
		t.Errorf("%d token requests, want 2", tokens)
	}
}

func TestWrongSecretIsUnauthorized(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{})
	cfg := e.config()
	cfg.ClientSecret = "wrong-secret-value-77"
	s := e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
	err := s.Push(context.Background(), crmtest.Delivery("w"))
	if !crmerr.IsUnauthorized(err) || strings.Contains(err.Error(), "wrong-secret-value-77") || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("wrong secret: %v", err)
	}
	// A rotated secret file is read again on Refresh.
	file := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(file, []byte("old-secret-value\n"), 0o600)
	cfg.ClientSecret, cfg.ClientSecretFile = "", file
	s = e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
	if err := s.Push(context.Background(), crmtest.Delivery("w")); !crmerr.IsUnauthorized(err) {
		t.Fatalf("old secret: %v", err)
	}
	os.WriteFile(file, []byte(secret+"\n"), 0o600)
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	crmtest.Push(t, s, crmtest.Activity("w"), crmsync.Assignment{})
}

func TestJWTBearer(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	e := newEnv(t, fakesalesforce.Options{PublicKey: &key.PublicKey})
	pemOf := func(k *rsa.PrivateKey) salesforce.Secret {
		return salesforce.Secret(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	}
	cfg := salesforce.Config{URL: e.srv.URL, Auth: salesforce.AuthJWTBearer, ClientID: clientID, Username: "calls@example.com", PrivateKey: pemOf(key)}
	s := e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, s, crmtest.Activity("jwt"), crmsync.Assignment{})
	cfg.PrivateKey = pemOf(other)
	s = e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
	if err := s.Push(context.Background(), crmtest.Delivery("jwt2")); !crmerr.IsUnauthorized(err) || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("wrong key: %v", err)
	}
	cfg.PrivateKey = "not a key"
	if _, err := salesforce.New("sf", cfg, salesforce.Options{}); err == nil || strings.Contains(err.Error(), "not a key") {
		t.Fatalf("a bad key: %v", err)
	}
}

// What Salesforce refuses for good is dead-lettered with its reason.
func TestPermanentErrors(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{TaskFields: map[string]string{}}) // no template field in this org
	tests := []struct {
		name string
		cfg  func(*salesforce.Config)
		as   crmsync.Assignment
		code string
	}{
		{"a template field the org lacks", nil, crmsync.Assignment{Template: "VIP"}, "INVALID_FIELD"},
		{"an inactive owner", nil, crmsync.Assignment{CRMUser: e.carol, Mapped: true}, "INACTIVE_OWNER_OR_USER"},
		{"a malformed owner id", nil, crmsync.Assignment{CRMUser: "not-an-id", Mapped: true}, "MALFORMED_ID"},
		{"a status the org does not have", func(c *salesforce.Config) { c.Status = "Done" }, crmsync.Assignment{}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"},
	}
	for i, tt := range tests {
		cfg := e.config()
		if tt.cfg != nil {
			tt.cfg(&cfg)
		}
		s := e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
		err := s.Push(context.Background(), crmsync.Delivery{Activity: crmtest.Activity(fmt.Sprint("p", i)), Assignment: tt.as})
		if !crmerr.IsPermanent(err) || !strings.Contains(err.Error(), tt.code) {
			t.Errorf("%s: %v, want permanent %s", tt.name, err, tt.code)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  salesforce.Config
		keys []string
	}{
		{salesforce.Config{}, []string{"url:", "client_id:", "client_secret:"}},
		{salesforce.Config{URL: "ftp://x", ClientID: "c", ClientSecret: "s", ClientSecretFile: "f", APIVersion: "62", Auth: "password"},
			[]string{"url:", "api_version:", "auth:"}},
		{salesforce.Config{URL: "https://x.my.salesforce.com", ClientID: "c", Auth: salesforce.AuthJWTBearer, ClientSecret: "s"},
			[]string{"private_key:", "username:", "client_secret:"}},
		{salesforce.Config{URL: "https://x.my.salesforce.com", ClientID: "c", ClientSecret: "s", DefaultOwner: "001000000000000",
			ExternalIDField: "CallId", TemplateField: "T__c", MaxConcurrency: 26, BatchSize: 201, Subjects: salesforce.Subjects{Incoming: "{{.X}}"},
			ClientSecretCredential: "../x"},
			[]string{"default_owner:", "external_id_field:", "max_concurrency:", "batch_size:", "subjects.incoming:", "client_secret"}},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if err == nil {
			t.Errorf("%+v accepted", tt.cfg)
			continue
		}
		for _, k := range tt.keys {
			if !strings.Contains(err.Error(), k) {
				t.Errorf("no problem named %s in:\n%v", k, err)
			}
		}
	}
	ok := salesforce.Config{URL: "https://x.my.salesforce.com", ClientID: "c", ClientSecret: "s", DefaultOwner: "005000000000001AAA"}
	if err := ok.Validate(); err != nil {
		t.Error(err)
	}
}
