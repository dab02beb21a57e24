package zoho_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/crmsync/zoho"
	"github.com/callbridge/callbridge/crmsync/zoho/fakezoho"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	clientID     = "1000.FAKECLIENTID0123456789"
	clientSecret = "zoho-client-secret-5b1d9e"
	refreshToken = "1000.refresh.7c0f3a2b9d8e6f"
)

type env struct {
	fake                             *fakezoho.Server
	srv                              *httptest.Server
	clock                            *crmtest.Clock
	alice, bob, carol, owner         string
	contact, account, lead, account2 string
}

func newEnv(t testing.TB, opts fakezoho.Options) *env {
	t.Helper()
	e := &env{clock: crmtest.NewClock()}
	opts.ClientID, opts.ClientSecret = clientID, clientSecret
	if opts.RefreshToken == "" {
		opts.RefreshToken = refreshToken
	}
	if opts.Now == nil {
		opts.Now = e.clock.Now
	}
	e.fake = fakezoho.New(opts)
	e.srv = httptest.NewServer(e.fake)
	t.Cleanup(e.srv.Close)
	e.alice = e.fake.AddUser("Alice@Example.com", "Alice A", "active")
	e.bob = e.fake.AddUser("bob@example.com", "Bob B", "active")
	e.carol = e.fake.AddUser("carol@example.com", "Carol C", "disabled")
	e.owner = e.fake.AddUser("calls@example.com", "Call Owner", "active")
	e.account = e.fake.AddRecord("Accounts", map[string]string{"Account_Name": "Acme Oy", "Phone": "+358 9 876 5432"})
	e.account2 = e.fake.AddRecord("Accounts", map[string]string{"Account_Name": "Other Oy", "Phone": "+358 9 111 2222"})
	e.contact = e.fake.AddRecord("Contacts", map[string]string{"Full_Name": "Maija Meikäläinen", "Mobile": "040 123 4567", "Account_Name": e.account})
	e.lead = e.fake.AddRecord("Leads", map[string]string{"Full_Name": "Lauri Liidi", "Phone": "050 765 4321"})
	return e
}

func (e *env) config() zoho.Config {
	return zoho.Config{APIURL: e.srv.URL, AccountsURL: e.srv.URL, WebURL: "https://crm.zoho.eu",
		ClientID: clientID, ClientSecret: clientSecret, RefreshToken: refreshToken, Timeout: 5 * time.Second}
}

func (e *env) connector(t testing.TB, cfg zoho.Config, opts zoho.Options) *zoho.Zoho {
	t.Helper()
	if opts.Now == nil {
		opts.Now = e.clock.Now
	}
	z, err := zoho.New("zoho", cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func (e *env) call(id string) (map[string]any, bool) {
	for _, c := range e.fake.Calls() {
		if c["Callbridge_Activity_Id"] == id {
			return c, true
		}
	}
	return nil, false
}

func recognizer(t testing.TB, z *zoho.Zoho) *phoneindex.Integration {
	return crmtest.Recognizer(t, "zoho", z, zoho.DefaultEntities())
}

func TestConformance(t *testing.T) {
	e := newEnv(t, fakezoho.Options{Now: time.Now})
	crmtest.Run(t, crmtest.Harness{
		New: func(t *testing.T, base string, log zerolog.Logger) crmtest.Connector {
			cfg := e.config()
			cfg.APIURL, cfg.AccountsURL = base, base
			z, err := zoho.New("zoho", cfg, zoho.Options{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			return z
		},
		Fake:     e.fake,
		Count:    e.fake.Count,
		Secrets:  []string{clientSecret, refreshToken},
		Entities: zoho.DefaultEntities(),
	})
}

func TestCallFields(t *testing.T) {
	e := newEnv(t, fakezoho.Options{})
	cfg := e.config()
	cfg.DefaultOwner = e.owner
	z := e.connector(t, cfg, zoho.Options{Logger: zerolog.Nop()})
	z2 := e.connector(t, cfg, zoho.Options{Logger: zerolog.Nop(), Recognizer: recognizer(t, z)})
	if _, err := z2.SyncUsers(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	long := crmtest.Activity("long")
	long.TalkSeconds = 125.4
	out := crmtest.Call("out", bridge.Outbound, bridge.Unaccepted, "+358507654321")
	tests := []struct {
		name string
		a    bridge.Activity
		as   crmsync.Assignment
		want map[string]string
		none []string
	}{
		{"inbound answered from a contact: for the contact, related to the account", crmtest.Activity("in"),
			crmsync.Assignment{Email: "alice@example.com", Template: "SUPPORT"},
			map[string]string{"Call_Type": "Inbound", "Call_Start_Time": "2026-11-21T16:11:10+00:00", "Call_Duration": "00:02",
				"Who_Id": "map[id:" + e.contact + "]", "What_Id": "map[id:" + e.account + "]", "$se_module": "Accounts",
				"Owner": "map[id:" + e.alice + "]", "Subject": "Call from Maija Meikäläinen", "Caller_ID": "+358401234567", "Callbridge_Template": "SUPPORT"},
			[]string{"Call_Result", "Dialled_Number"}},
		{"missed", crmtest.Call("miss", bridge.Inbound, bridge.Missed, "+358509999999"), crmsync.Assignment{CRMUser: e.bob, Mapped: true},
			map[string]string{"Call_Type": "Missed", "Call_Duration": "00:00", "Owner": "map[id:" + e.bob + "]"}, []string{"Who_Id", "What_Id"}},
		{"outbound unanswered to a lead, a disabled user: the default owner", out, crmsync.Assignment{Email: "carol@example.com"},
			map[string]string{"Call_Type": "Outbound", "Call_Result": "No response/Busy", "What_Id": "map[id:" + e.lead + "]", "$se_module": "Leads",
				"Dialled_Number": "+358507654321", "Owner": "map[id:" + e.owner + "]"}, []string{"Who_Id"}},
		{"2 min 5 s", long, crmsync.Assignment{}, map[string]string{"Call_Duration": "02:05"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crmtest.Push(t, z2, tt.a, tt.as)
			c, ok := e.call(tt.a.ID)
			if !ok {
				t.Fatal("no call")
			}
			for k, want := range tt.want {
				if got := fmt.Sprint(c[k]); got != want {
					t.Errorf("%s = %s, want %s", k, got, want)
				}
			}
			for _, k := range tt.none {
				if v, ok := c[k]; ok {
					t.Errorf("%s = %v", k, v)
				}
			}
		})
	}
}

// A lost answer: the retry asks COQL for the marker and writes nothing
// twice, whichever process retries.
func TestLostAnswerLookupByMarker(t *testing.T) {
	e := newEnv(t, fakezoho.Options{})
	z := e.connector(t, e.config(), zoho.Options{Logger: zerolog.Nop()})
	a := crmtest.Activity("lost-1")
	crmtest.Push(t, z, crmtest.Activity("warm"), crmsync.Assignment{})
	e.fake.LoseNext("POST", "/crm/v8/Calls", 1)
	if err := z.Push(context.Background(), crmtest.DeliveryOf(a)); err == nil || crmerr.IsPermanent(err) {
		t.Fatalf("lost answer: %v", err)
	}
	before, _, _ := e.fake.Stats()
	crmtest.Push(t, z, a, crmsync.Assignment{})
	if after, _, _ := e.fake.Stats(); after-before != 1 {
		t.Errorf("the retry cost %d requests, want 1 (the query)", after-before)
	}
	b := crmtest.Activity("lost-2")
	e.fake.LoseNext("POST", "/crm/v8/Calls", 1)
	z.Push(context.Background(), crmtest.DeliveryOf(b))
	e.clock.Add(2 * time.Minute)
	crmtest.Push(t, e.connector(t, e.config(), zoho.Options{Logger: zerolog.Nop()}), b, crmsync.Assignment{})
	for _, id := range []string{a.ID, b.ID} {
		if n := e.fake.Count(id); n != 1 {
			t.Errorf("%s: %d calls", id, n)
		}
	}
}

// With the marker field unique, even a create that skips the lookup is
// refused as a duplicate, and counted as written.
func TestUniqueMarker(t *testing.T) {
	e := newEnv(t, fakezoho.Options{UniqueMarker: true})
	a := crmtest.Activity("u1")
	crmtest.Push(t, e.connector(t, e.config(), zoho.Options{Logger: zerolog.Nop()}), a, crmsync.Assignment{})
	crmtest.Push(t, e.connector(t, e.config(), zoho.Options{Logger: zerolog.Nop()}), a, crmsync.Assignment{}) // fresh: no lookup
	if n := e.fake.Count(a.ID); n != 1 {
		t.Fatalf("%d calls", n)
	}
}

// Zoho drops values of fields the module lacks without a word: without
// its marker field the connector refuses to write rather than rely on a
// marker that would never be found.
func TestMissingMarkerField(t *testing.T) {
	e := newEnv(t, fakezoho.Options{CallFields: []string{"Callbridge_Template"}})
	z := e.connector(t, e.config(), zoho.Options{Logger: zerolog.Nop()})
	err := z.Push(context.Background(), crmtest.Delivery("m1"))
	if !crmerr.IsPermanent(err) || !strings.Contains(err.Error(), "no field Callbridge_Activity_Id") || len(e.fake.Calls()) != 0 {
		t.Fatalf("missing marker field: %v, %d calls", err, len(e.fake.Calls()))
	}
}

func TestBatch(t *testing.T) {
	e := newEnv(t, fakezoho.Options{})
	z := e.connector(t, e.config(), zoho.Options{Logger: zerolog.Nop()})
	ds := crmtest.Backlog("b", 250)
	ds[9].Assignment = crmsync.Assignment{CRMUser: e.carol, Mapped: true}
	before, _, _ := e.fake.Stats()
	errs := z.PushBatch(context.Background(), ds)
	if after, _, _ := e.fake.Stats(); after-before != 4 { // the field check and 3 inserts
		t.Errorf("250 calls took %d requests, want 4", after-before)
	}
	for i, err := range errs {
		if (i == 9) != (err != nil) || (i == 9 && (!crmerr.IsPermanent(err) || !strings.Contains(err.Error(), "invalid owner"))) {
			t.Errorf("%d: %v", i, err)
		}
	}
	lost := crmtest.Backlog("c", 120)
	e.fake.LoseNext("POST", "/crm/v8/Calls", 1)
	z.PushBatch(context.Background(), lost)
	for _, err := range z.PushBatch(context.Background(), lost[:100]) { // what failed
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range append(ds, lost...) {
		want := 1
		if d.Activity.ID == ds[9].Activity.ID {
			want = 0
		}
		if n := e.fake.Count(d.Activity.ID); n != want {
			t.Fatalf("%s: %d calls", d.Activity.ID, n)
		}
	}
}

func TestSyncUsers(t *testing.T) {
	e := newEnv(t, fakezoho.Options{})
	z := e.connector(t, e.config(), zoho.Options{Logger: zerolog.Nop()})
	rep, err := z.SyncUsers(context.Background(), []bridge.User{
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
	e := newEnv(t, fakezoho.Options{})
	z := e.connector(t, e.config(), zoho.Options{Logger: zerolog.Nop()})
	in := recognizer(t, z)
	m, ok := in.Lookup("+358401234567")
	if !ok || m.Best.ID != e.contact || m.Best.Name != "Maija Meikäläinen" || m.Best.Org != e.account ||
		m.Best.URL != "https://crm.zoho.eu/crm/org60012345/tab/Contacts/"+e.contact {
		t.Fatalf("contact: %+v %v", m.Best, ok)
	}
	e.clock.Add(time.Hour)
	e.fake.AddRecord("Accounts", map[string]string{"Account_Name": "New Oy", "Phone": "+358 20 555 0000"})
	e.fake.Delete("Accounts", e.account2)
	if err := in.Sync(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if _, ok := in.Lookup("+358205550000"); !ok {
		t.Error("incremental sync missed a new account")
	}
	e.clock.Add(time.Hour)
	if err := in.Sync(context.Background(), false); err != nil { // nothing changed: 304
		t.Fatal(err)
	}
	if err := in.Sync(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if _, ok := in.Lookup("+35891112222"); ok {
		t.Error("a deleted account survived the full sync")
	}
}

func TestCreditsExhausted(t *testing.T) {
	e := newEnv(t, fakezoho.Options{Credits: 2})
	z := e.connector(t, e.config(), zoho.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, z, crmtest.Activity("c1"), crmsync.Assignment{}) // the field check and an insert
	err := z.Push(context.Background(), crmtest.Delivery("c2"))
	if d, ok := crmerr.RetryAfter(err); crmerr.IsPermanent(err) || !ok || d < time.Minute || !strings.Contains(err.Error(), "TOO_MANY_REQUESTS") {
		t.Fatalf("credits: %v", err)
	}
}

func TestTokenExpiryAndRevocation(t *testing.T) {
	e := newEnv(t, fakezoho.Options{})
	z := e.connector(t, e.config(), zoho.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, z, crmtest.Activity("t1"), crmsync.Assignment{})
	e.fake.ExpireTokens()
	crmtest.Push(t, z, crmtest.Activity("t2"), crmsync.Assignment{})
	if _, _, tokens := e.fake.Stats(); tokens != 2 {
		t.Errorf("%d token requests, want 2", tokens)
	}
	e2 := newEnv(t, fakezoho.Options{RefreshToken: "1000.another.refresh.token"})
	err := e2.connector(t, e2.config(), zoho.Options{Logger: zerolog.Nop()}).Push(context.Background(), crmtest.Delivery("t3"))
	if !crmerr.IsUnauthorized(err) || !strings.Contains(err.Error(), "invalid_code") || strings.Contains(err.Error(), refreshToken) {
		t.Fatalf("a revoked refresh token: %v", err)
	}
}

// The data centre picks the hosts.
func TestDataCentre(t *testing.T) {
	var mu sync.Mutex
	var hosts []string
	rt := roundTrip(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		hosts = append(hosts, r.URL.Host)
		mu.Unlock()
		return nil, errors.New("offline")
	})
	z, err := zoho.New("zoho", zoho.Config{DataCentre: "ca", ClientID: "c", ClientSecret: "s", RefreshToken: "r"},
		zoho.Options{Client: &http.Client{Transport: rt}, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	z.Push(context.Background(), crmtest.DeliveryOf(crmtest.Activity("dc")))
	if len(hosts) != 1 || hosts[0] != "accounts.zohocloud.ca" {
		t.Errorf("hosts %v", hosts)
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestConfigValidate(t *testing.T) {
	err := zoho.Config{DataCentre: "us", APIURL: "ftp://x", APIVersion: "8", ClientSecret: "a", ClientSecretFile: "b",
		DefaultOwner: "alice", MarkerField: "bad name", MaxConcurrency: 26, BatchSize: 101, Subjects: zoho.Subjects{Incoming: "{{.X}}"}}.Validate()
	for _, k := range []string{"data_centre:", "api_url:", "api_version:", "client_id:", "client_secret:", "refresh_token:", "default_owner:", "marker_field:", "max_concurrency:", "batch_size:", "subjects.incoming:"} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("no problem named %s in:\n%v", k, err)
		}
	}
	if err := (zoho.Config{DataCentre: "eu", ClientID: "c", ClientSecret: "s", RefreshToken: "r"}).Validate(); err != nil {
		t.Error(err)
	}
}
