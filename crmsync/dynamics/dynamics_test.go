package dynamics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
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
	"github.com/callbridge/callbridge/crmsync/dynamics"
	"github.com/callbridge/callbridge/crmsync/dynamics/fakedataverse"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	clientID = "0b6e2f54-6f7e-4a55-9b1c-2d3e4f5a6b7c"
	secret   = "s3cr3t~Qx8Q~Zk_2oPq.Lm9vW"
	alice    = "a1a1a1a1-0000-4000-8000-000000000101"
	bob      = "b2b2b2b2-0000-4000-8000-000000000102"
	owner    = "d0d0d0d0-0000-4000-8000-0000000000d0"
	carol    = "c3c3c3c3-0000-4000-8000-000000000103"
	contact  = "11111111-2222-4333-8444-555555555555"
	account  = "66666666-7777-4888-8999-aaaaaaaaaaaa"
)

// env is a fake Dataverse with a few users and records, behind a test
// server.
type env struct {
	fake *fakedataverse.Server
	srv  *httptest.Server
}

func newEnv(t testing.TB, opts fakedataverse.Options) *env {
	t.Helper()
	e := &env{}
	e.srv = httptest.NewUnstartedServer(nil)
	e.srv.Start()
	opts.ClientID, opts.ClientSecret, opts.Scope = clientID, secret, e.srv.URL+"/.default"
	e.fake = fakedataverse.New(opts)
	e.srv.Config.Handler = e.fake
	t.Cleanup(e.srv.Close)
	e.fake.AddUser(fakedataverse.SystemUser{ID: alice, Email: "Alice@Example.com", FullName: "Alice"})
	e.fake.AddUser(fakedataverse.SystemUser{ID: bob, Email: "bob@example.com", FullName: "Bob"})
	e.fake.AddUser(fakedataverse.SystemUser{ID: carol, Email: "carol@example.com", FullName: "Carol", Disabled: true})
	e.fake.AddUser(fakedataverse.SystemUser{ID: owner, Email: "calls@example.com", FullName: "Call owner"})
	e.fake.AddRecord("contacts", fakedataverse.Record{"contactid": contact, "fullname": "Maija Meikäläinen", "mobilephone": "040 123 4567"})
	e.fake.AddRecord("accounts", fakedataverse.Record{"accountid": account, "name": "Acme Oy", "telephone1": "+358 9 876 5432"})
	return e
}

func (e *env) config() dynamics.Config {
	return dynamics.Config{
		URL: e.srv.URL, TenantID: "contoso.onmicrosoft.com", ClientID: clientID, ClientSecret: secret,
		TokenURL: e.srv.URL + "/contoso.onmicrosoft.com/oauth2/v2.0/token", DefaultOwner: owner,
		Timeout: 5 * time.Second,
	}
}

func (e *env) connector(t testing.TB, cfg dynamics.Config, opts dynamics.Options) *dynamics.Dynamics {
	t.Helper()
	d, err := dynamics.New("dyn", cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestConformance(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{PhonecallAttributes: []string{"new_wrapcode"}})
	e.fake.AddQueue(fakedataverse.Queue{ID: queueID, Name: "Support", OwnerID: bob})
	crmtest.Run(t, crmtest.Harness{
		New: func(t *testing.T, base string, log zerolog.Logger) crmtest.Connector {
			cfg := e.config()
			cfg.Wrapup.Field = "new_wrapcode"
			cfg.URL, cfg.TokenURL = base, base+"/tenant/oauth2/v2.0/token"
			cfg.Scope = e.srv.URL + "/.default" // what the fake accepts
			d, err := dynamics.New("dyn", cfg, dynamics.Options{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		Fake:     e.fake,
		Count:    func(id string) int { return e.fake.Count(dynamics.RecordID(id)) },
		Secrets:  []string{secret},
		Entities: phoneindex.DefaultEntities(),
		Record: func(id string) (bool, string, bool) {
			pc, ok := e.fake.Phonecall(dynamics.RecordID(id))
			code, _ := pc["new_wrapcode"].(string)
			return pc["statecode"] == json.Number("0"), code, ok
		},
		Callbacks:     func(id string) int { return e.fake.Count(dynamics.RecordID("callback:" + id)) },
		CallbackQueue: "Support",
	})
}

func TestRecordID(t *testing.T) {
	a, b := dynamics.RecordID("0123456789abcdef0123456789abcdef"), dynamics.RecordID("0123456789abcdef0123456789abcdee")
	if a == b || a != dynamics.RecordID("0123456789abcdef0123456789abcdef") {
		t.Fatalf("RecordID not deterministic and distinct: %s %s", a, b)
	}
	if len(a) != 36 || a[14] != '5' || !strings.ContainsAny(a[19:20], "89ab") {
		t.Errorf("RecordID %s is not a version 5 UUID", a)
	}
}

// recognizer indexes the fake's records the way the daemon would.
func recognizer(t testing.TB, d *dynamics.Dynamics) *phoneindex.Integration {
	t.Helper()
	in, err := phoneindex.Open(context.Background(), "dyn", d, phoneindex.FileStore{Dir: t.TempDir()},
		phoneindex.Settings{Region: "FI", Enabled: true}, phoneindex.IntegrationOptions{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Sync(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	return in
}

func activity(id string, dir bridge.Direction, state bridge.Outcome, remote string) bridge.Activity {
	a := crmtest.Activity(id)
	a.Direction, a.State, a.RemoteNumber, a.RemoteE164 = dir, state, remote, remote
	if state != bridge.Connected {
		a.AnsweredAt, a.TalkSeconds = time.Time{}, 0
		a.Reason = bridge.ReasonCancel
	}
	if dir == bridge.Outbound {
		a.DDI = ""
	}
	return a
}

func TestPayloadMapping(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	cfg := e.config()
	cfg.Users = map[string]dynamics.UserConfig{"101": {CRMUser: alice}}
	cfg.Unaccepted = dynamics.LeaveOpen
	d := e.connector(t, cfg, dynamics.Options{Logger: zerolog.Nop()})
	rec := recognizer(t, d)
	d2 := e.connector(t, cfg, dynamics.Options{Logger: zerolog.Nop(), Recognizer: rec})

	long := activity("long", bridge.Inbound, bridge.Connected, "+358401234567")
	long.TalkSeconds = 61
	unmapped := activity("unmapped", bridge.Inbound, bridge.Missed, "+358501112222")
	unmapped.User, unmapped.LocalNumber = "105", "105"
	tests := []struct {
		name  string
		a     bridge.Activity
		check map[string]any // attribute -> want
		from  string         // sender party: bind or address
		to    string
		state int
		stat  int
	}{
		{"inbound connected, contact", activity("in-conn", bridge.Inbound, bridge.Connected, "+358401234567"),
			map[string]any{"subject": "Call from Maija Meikäläinen", "directioncode": false, "actualdurationminutes": "1",
				"phonenumber": "+358401234567", "_ownerid_value": alice, "_regardingobjectid_value": contact,
				"actualstart": "2026-11-21T16:11:10Z", "actualend": "2026-11-21T16:11:14Z"},
			"/contacts(" + contact + ")", "/systemusers(" + alice + ")", 1, 4},
		{"inbound missed, account", activity("in-miss", bridge.Inbound, bridge.Missed, "+35898765432"),
			map[string]any{"subject": "Missed call from Acme Oy", "actualdurationminutes": "0", "_regardingobjectid_value": account},
			"/accounts(" + account + ")", "/systemusers(" + alice + ")", 1, 4},
		{"outbound connected, unknown number", activity("out-conn", bridge.Outbound, bridge.Connected, "+358509999999"),
			map[string]any{"subject": "Call to +358509999999", "directioncode": true, "_regardingobjectid_value": nil},
			"/systemusers(" + alice + ")", "+358509999999", 1, 2},
		{"outbound unaccepted left open", activity("out-unacc", bridge.Outbound, bridge.Unaccepted, "+358401234567"),
			map[string]any{"subject": "Unanswered call to Maija Meikäläinen", "directioncode": true},
			"/systemusers(" + alice + ")", "/contacts(" + contact + ")", 0, 1},
		{"61 s of talk is 2 minutes", long, map[string]any{"actualdurationminutes": "2"},
			"/contacts(" + contact + ")", "/systemusers(" + alice + ")", 1, 4},
		{"unmapped user: default owner, extension as address", unmapped,
			map[string]any{"_ownerid_value": owner, "subject": "Missed call from +358501112222"},
			"+358501112222", "105", 1, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := d2.Push(context.Background(), delivery(tt.a)); err != nil {
				t.Fatal(err)
			}
			pc, ok := e.fake.Phonecall(dynamics.RecordID(tt.a.ID))
			if !ok {
				t.Fatal("no phonecall stored")
			}
			for k, want := range tt.check {
				got := pc[k]
				if n, ok := got.(json.Number); ok {
					got = n.String()
				}
				if got != want {
					t.Errorf("%s = %v, want %v", k, got, want)
				}
			}
			if got := pc["statecode"].(json.Number).String(); got != itoa(tt.state) {
				t.Errorf("statecode %s, want %d", got, tt.state)
			}
			if got := pc["statuscode"].(json.Number).String(); got != itoa(tt.stat) {
				t.Errorf("statuscode %s, want %d", got, tt.stat)
			}
			parties := pc["phonecall_activity_parties"].([]any)
			if len(parties) != 2 {
				t.Fatalf("%d parties", len(parties))
			}
			for _, p := range parties {
				pm := p.(map[string]any)
				who := partyOf(pm)
				switch pm["participationtypemask"].(json.Number).String() {
				case "1":
					if who != tt.from {
						t.Errorf("sender %s, want %s", who, tt.from)
					}
				case "2":
					if who != tt.to {
						t.Errorf("recipient %s, want %s", who, tt.to)
					}
				}
			}
			desc, _ := pc["description"].(string)
			if !strings.Contains(desc, "Ring 2 s") || !strings.Contains(desc, "Call id: 1763741470.0") {
				t.Errorf("description %q", desc)
			}
		})
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

func partyOf(p map[string]any) string {
	for k, v := range p {
		if strings.HasSuffix(k, "@odata.bind") || k == "addressused" {
			return v.(string)
		}
	}
	return ""
}

func TestSubjectTemplates(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	cfg := e.config()
	cfg.Subjects.Incoming = "In {{.RemoteNumber}} for {{.UserName}}"
	cfg.Users = map[string]dynamics.UserConfig{"101": {CRMUser: alice, Subjects: dynamics.Subjects{MissedIncoming: "Call back {{.Number}}"}}}
	cfg.Templates = map[string]string{"VIP": "VIP call {{.Remote}}"}
	d := e.connector(t, cfg, dynamics.Options{Logger: zerolog.Nop()})
	ctx := context.Background()
	cases := []struct {
		as   crmsync.Assignment
		a    bridge.Activity
		want string
	}{
		{crmsync.Assignment{}, activity("s1", bridge.Inbound, bridge.Connected, "+358401234567"), "In +358401234567 for Alice"},
		{crmsync.Assignment{}, activity("s2", bridge.Inbound, bridge.Missed, "+358401234567"), "Call back +358401234567"},
		{crmsync.Assignment{Template: "VIP"}, activity("s3", bridge.Inbound, bridge.Connected, "+358401234567"), "VIP call +358401234567"},
	}
	for _, c := range cases {
		if err := d.Push(ctx, crmsync.Delivery{Activity: c.a, Assignment: c.as}); err != nil {
			t.Fatal(err)
		}
		pc, _ := e.fake.Phonecall(dynamics.RecordID(c.a.ID))
		if pc["subject"] != c.want {
			t.Errorf("subject %q, want %q", pc["subject"], c.want)
		}
	}
	bad := e.config()
	bad.Subjects.Outgoing = "{{.NoSuchField}}"
	if _, err := dynamics.New("x", bad, dynamics.Options{}); err == nil || !strings.Contains(err.Error(), "subjects.outgoing") {
		t.Errorf("bad template: %v", err)
	}
}

// flaky fails the first completion PATCH with a 503, after the create
// went through: the retry must not create a second phonecall.
type flaky struct {
	http.Handler
	mu      sync.Mutex
	patches int
	fail    int
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPatch {
		f.mu.Lock()
		f.patches++
		n := f.patches
		f.mu.Unlock()
		if n <= f.fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	}
	f.Handler.ServeHTTP(w, r)
}

func TestRetryAfterCreateOnlyCompletes(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	f := &flaky{Handler: e.fake, fail: 1}
	e.srv.Config.Handler = f
	d := e.connector(t, e.config(), dynamics.Options{Logger: zerolog.Nop()})
	a := activity("retry-1", bridge.Inbound, bridge.Connected, "+358401234567")
	err := d.Push(context.Background(), delivery(a))
	if err == nil || crmerr.IsPermanent(err) {
		t.Fatalf("first push: %v, want a retryable error", err)
	}
	if pc, _ := e.fake.Phonecall(dynamics.RecordID(a.ID)); pc["statecode"].(json.Number).String() != "0" {
		t.Fatal("phonecall should be open after the failed completion")
	}
	if err := d.Push(context.Background(), delivery(a)); err != nil {
		t.Fatal(err)
	}
	if err := d.Push(context.Background(), delivery(a)); err != nil { // completed already: nothing to do
		t.Fatal(err)
	}
	pc, _ := e.fake.Phonecall(dynamics.RecordID(a.ID))
	if pc["statecode"].(json.Number).String() != "1" || e.fake.Phonecalls() != 1 {
		t.Fatalf("after retries: state %v, %d phonecalls", pc["statecode"], e.fake.Phonecalls())
	}
}

func TestTokenCachedAndRefreshedOn401(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	d := e.connector(t, e.config(), dynamics.Options{Logger: zerolog.Nop()})
	ctx := context.Background()
	for i := range 3 {
		if err := d.Push(ctx, delivery(activity("tok-"+itoa(i), bridge.Inbound, bridge.Connected, "+358401234567"))); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, tokens := e.fake.Stats(); tokens != 1 {
		t.Fatalf("%d token requests for 3 pushes, want 1 (cached)", tokens)
	}
	e.fake.RevokeTokens()
	if err := d.Push(ctx, delivery(activity("tok-9", bridge.Inbound, bridge.Connected, "+358401234567"))); err != nil {
		t.Fatalf("push after token revocation: %v", err)
	}
	if _, _, tokens := e.fake.Stats(); tokens != 2 {
		t.Fatalf("%d token requests, want exactly one refresh", tokens)
	}
}

func TestWrongSecretIsUnauthorizedAndQuiet(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("wrong-secret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e.config()
	cfg.ClientSecret, cfg.ClientSecretFile = "", file
	d := e.connector(t, cfg, dynamics.Options{Logger: zerolog.Nop()})
	err := d.Push(context.Background(), delivery(activity("ws", bridge.Inbound, bridge.Connected, "+358401234567")))
	if !crmerr.IsUnauthorized(err) || strings.Contains(err.Error(), "wrong-secret-value") {
		t.Fatalf("wrong secret: %v", err)
	}
	// The operator fixes the file; Refresh picks it up.
	if err := os.WriteFile(file, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Push(context.Background(), delivery(activity("ws", bridge.Inbound, bridge.Connected, "+358401234567"))); err != nil {
		t.Fatal(err)
	}
}

func TestStartMargin(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	cfg := e.config()
	cfg.StartMargin = 10 * time.Second
	cfg.Users = map[string]dynamics.UserConfig{"101": {CRMUser: alice}}
	d := e.connector(t, cfg, dynamics.Options{Logger: zerolog.Nop()})
	ctx := context.Background()
	a := activity("m1", bridge.Inbound, bridge.Connected, "+358401234567")
	if err := d.Push(ctx, delivery(a)); err != nil {
		t.Fatal(err)
	}
	// The same call seen through another source 3 s later: a duplicate.
	b := activity("m2", bridge.Inbound, bridge.Connected, "+358401234567")
	b.StartedAt = b.StartedAt.Add(3 * time.Second)
	if err := d.Push(ctx, delivery(b)); err != nil {
		t.Fatal(err)
	}
	// Outside the margin: a new call.
	c := activity("m3", bridge.Inbound, bridge.Connected, "+358401234567")
	c.StartedAt = c.StartedAt.Add(30 * time.Second)
	if err := d.Push(ctx, delivery(c)); err != nil {
		t.Fatal(err)
	}
	// Its own record found again (a retry) is completed, not skipped.
	if err := d.Push(ctx, delivery(a)); err != nil {
		t.Fatal(err)
	}
	if e.fake.Count(dynamics.RecordID("m2")) != 0 || e.fake.Count(dynamics.RecordID("m3")) != 1 || e.fake.Phonecalls() != 2 {
		t.Fatalf("m2 %d, m3 %d, total %d", e.fake.Count(dynamics.RecordID("m2")), e.fake.Count(dynamics.RecordID("m3")), e.fake.Phonecalls())
	}
}

func TestThrottled(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{RateLimit: 2, RateWindow: time.Minute})
	d := e.connector(t, e.config(), dynamics.Options{Logger: zerolog.Nop()})
	ctx := context.Background()
	if err := d.Push(ctx, delivery(activity("t1", bridge.Inbound, bridge.Connected, "+358401234567"))); err != nil {
		t.Fatal(err) // create + complete: the whole allowance
	}
	err := d.Push(ctx, delivery(activity("t2", bridge.Inbound, bridge.Connected, "+358401234567")))
	if d, ok := crmerr.RetryAfter(err); !ok || d < 50*time.Second || crmerr.IsPermanent(err) {
		t.Fatalf("throttled push: %v (retry after %v)", err, d)
	}
}

func TestBatch(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	d := e.connector(t, e.config(), dynamics.Options{Logger: zerolog.Nop()})
	ctx := context.Background()
	var acts []bridge.Activity
	for i := range 7 {
		acts = append(acts, activity("b"+itoa(i), bridge.Inbound, bridge.Connected, "+358401234567"))
	}
	// b0 exists already (a retried drain): its changeset fails with 412
	// and it is completed separately.
	if err := d.Push(ctx, delivery(acts[0])); err != nil {
		t.Fatal(err)
	}
	bad := activity("bad", bridge.Inbound, bridge.Connected, "+358401234567")
	bad.ID = ""
	acts = append(acts, bad)
	errs := d.PushBatch(ctx, deliveries(acts))
	for i, err := range errs[:7] {
		if err != nil {
			t.Errorf("activity %d: %v", i, err)
		}
	}
	if !crmerr.IsPermanent(errs[7]) {
		t.Errorf("activity without id: %v", errs[7])
	}
	if n := e.fake.Phonecalls(); n != 7 {
		t.Errorf("%d phonecalls, want 7", n)
	}
	for _, a := range acts[:7] {
		pc, _ := e.fake.Phonecall(dynamics.RecordID(a.ID))
		if pc["statecode"].(json.Number).String() != "1" {
			t.Errorf("%s not completed", a.ID)
		}
	}
	// Again: everything exists, nothing doubles.
	for i, err := range d.PushBatch(ctx, deliveries(acts[:7])) {
		if err != nil {
			t.Errorf("second drain, activity %d: %v", i, err)
		}
	}
	if n := e.fake.Phonecalls(); n != 7 {
		t.Errorf("%d phonecalls after a second drain, want 7", n)
	}
}

func TestBatchThrottledWhole(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{RateLimit: 1, RateWindow: time.Minute})
	d := e.connector(t, e.config(), dynamics.Options{Logger: zerolog.Nop()})
	ctx := context.Background()
	acts := []bridge.Activity{activity("w1", bridge.Inbound, bridge.Connected, "+358401234567"), activity("w2", bridge.Inbound, bridge.Missed, "+358401234567")}
	if errs := d.PushBatch(ctx, deliveries(acts)); errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	acts[0].ID, acts[1].ID = "w3", "w4"
	for _, err := range d.PushBatch(ctx, deliveries(acts)) {
		if _, ok := crmerr.RetryAfter(err); !ok {
			t.Errorf("throttled batch: %v", err)
		}
	}
}

func TestSyncUsers(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{MaxPageSize: 2}) // pages of 2: paging exercised
	cfg := e.config()
	cfg.Users = map[string]dynamics.UserConfig{
		"102": {Email: "BOB@example.com"},                        // configured e-mail wins over the directory's
		"103": {CRMUser: carol},                                  // explicit, but disabled
		"104": {CRMUser: bob},                                    // explicit wins
		"106": {CRMUser: "99999999-0000-4000-8000-000000000000"}, // unknown id
	}
	d := e.connector(t, cfg, dynamics.Options{Logger: zerolog.Nop()})
	users := []bridge.User{
		{Extension: "101", Email: "alice@EXAMPLE.com"},
		{Extension: "102", Email: "someone@else.com"},
		{Extension: "103", Email: "carol@example.com"},
		{Extension: "104", Email: "alice@example.com"},
		{Extension: "105", Email: "nobody@example.com"},
		{Extension: "107"},
	}
	rep, err := d.SyncUsers(context.Background(), users)
	if err != nil {
		t.Fatal(err)
	}
	m := d.Mapping()
	want := map[string]string{"101": alice, "102": bob, "104": bob}
	if len(m.Users) != len(want) {
		t.Errorf("mapping %v, want %v", m.Users, want)
	}
	for ext, id := range want {
		if m.Users[ext] != id {
			t.Errorf("%s -> %q, want %q", ext, m.Users[ext], id)
		}
	}
	if rep.Mapped["101"] != "directory" || rep.Mapped["102"] != "email" || rep.Mapped["104"] != "crm_user" {
		t.Errorf("report mapped %v", rep.Mapped)
	}
	unmapped := map[string]bool{}
	for _, u := range rep.Unmapped {
		unmapped[u.Extension] = true
	}
	for _, ext := range []string{"103", "105", "106", "107"} {
		if !unmapped[ext] {
			t.Errorf("%s not reported unmapped: %+v", ext, rep.Unmapped)
		}
	}
	if rep.CRMUsers != 4 {
		t.Errorf("read %d CRM users, want 4", rep.CRMUsers)
	}
	if got := d.Mapping().Users["101"]; got != alice {
		t.Errorf("mapping not in use: %q", got)
	}
}

func TestRecordsPaged(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{MaxPageSize: 3})
	for i := range 10 {
		e.fake.AddRecord("leads", fakedataverse.Record{"leadid": "00000000-0000-4000-8000-00000000000" + string(rune('0'+i)), "fullname": "Lead", "telephone1": "040 000 000" + string(rune('0'+i))})
	}
	d := e.connector(t, e.config(), dynamics.Options{Logger: zerolog.Nop()})
	pages, n := 0, 0
	lead := phoneindex.DefaultEntities()[1]
	err := d.Records(context.Background(), lead, time.Time{}, func(r []phoneindex.Record) error {
		pages++
		n += len(r)
		return nil
	})
	if err != nil || pages != 4 || n != 10 {
		t.Fatalf("pages %d, records %d, err %v", pages, n, err)
	}
	// Incremental: nothing modified in the future.
	n = 0
	err = d.Records(context.Background(), lead, time.Now().Add(time.Hour), func(r []phoneindex.Record) error { n += len(r); return nil })
	if err != nil || n != 0 {
		t.Fatalf("incremental: %d records, %v", n, err)
	}
}

// recognition.entities[].fields are fetched with the records, as text;
// a field the table does not have is refused by Dataverse and so the sync
// fails naming it.
func TestRecordsFields(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	e.fake.AddRecord("contacts", fakedataverse.Record{"contactid": "00000000-0000-4000-8000-000000000001", "fullname": "Matti Meikäläinen",
		"telephone1": "040 123 4567", "emailaddress1": "matti@example.com", "firstname": nil})
	d := e.connector(t, e.config(), dynamics.Options{Logger: zerolog.Nop()})
	contact := phoneindex.DefaultEntities()[0]
	contact.Fields = []string{"emailaddress1", "firstname", "telephone1"}
	var got []phoneindex.Record
	err := d.Records(context.Background(), contact, time.Time{}, func(r []phoneindex.Record) error {
		got = append(got, r...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"emailaddress1": "matti@example.com", "telephone1": "040 123 4567"}
	found := false
	for _, r := range got {
		if r.ID == "00000000-0000-4000-8000-000000000001" {
			found = true
			if !reflect.DeepEqual(r.Fields, want) {
				t.Errorf("fields %v, want %v", r.Fields, want)
			}
		}
	}
	if !found {
		t.Fatalf("record not listed: %v", got)
	}
	contact.Fields = []string{"no_such_field"}
	err = d.Records(context.Background(), contact, time.Time{}, func([]phoneindex.Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "no_such_field") {
		t.Errorf("unknown field: %v", err)
	}
}

func TestNextLinkToAnotherHostRefused(t *testing.T) {
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the token was sent to another host")
	}))
	defer evil.Close()
	e := newEnv(t, fakedataverse.Options{})
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/systemusers") {
			_, _ = w.Write([]byte(`{"value":[],"@odata.nextLink":"` + evil.URL + `/api/data/v9.2/systemusers?$skiptoken=1"}`))
			return
		}
		e.fake.ServeHTTP(w, r)
	})
	d := e.connector(t, e.config(), dynamics.Options{Logger: zerolog.Nop()})
	if _, err := d.SyncUsers(context.Background(), nil); !crmerr.IsPermanent(err) {
		t.Fatalf("nextLink to another host: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := dynamics.Config{URL: "https://contoso.crm4.dynamics.com", TenantID: "contoso.onmicrosoft.com", ClientID: "x", ClientSecret: "y"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key string
		mod func(*dynamics.Config)
	}{
		{"url", func(c *dynamics.Config) { c.URL = "contoso" }},
		{"tenant_id", func(c *dynamics.Config) { c.TenantID = "" }},
		{"client_id", func(c *dynamics.Config) { c.ClientID = "" }},
		{"client_secret", func(c *dynamics.Config) { c.ClientSecret = "" }},
		{"client_secret", func(c *dynamics.Config) { c.ClientSecretFile = "/x" }},
		{"client_secret_credential", func(c *dynamics.Config) { c.ClientSecret = ""; c.ClientSecretCredential = "../x" }},
		{"default_owner", func(c *dynamics.Config) { c.DefaultOwner = "alice" }},
		{`users["101"].crm_user`, func(c *dynamics.Config) { c.Users = map[string]dynamics.UserConfig{"101": {CRMUser: "x"}} }},
		{"missed", func(c *dynamics.Config) { c.Missed = "deleted" }},
		{"max_concurrency", func(c *dynamics.Config) { c.MaxConcurrency = 53 }},
		{"batch_size", func(c *dynamics.Config) { c.BatchSize = 501 }},
		{"start_margin", func(c *dynamics.Config) { c.StartMargin = -time.Second }},
		{"subjects.incoming", func(c *dynamics.Config) { c.Subjects.Incoming = "{{" }},
	}
	for _, tt := range tests {
		c := good
		tt.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.key+":") {
			t.Errorf("%s: %v", tt.key, err)
		}
	}
	if s := dynamics.Secret("x").String(); s != "<secret>" {
		t.Error("Secret prints")
	}
}

// delivery is a as the dispatcher hands it over, without an assignment.
func delivery(a bridge.Activity) crmsync.Delivery { return crmsync.Delivery{Activity: a} }

func deliveries(acts []bridge.Activity) []crmsync.Delivery {
	ds := make([]crmsync.Delivery, len(acts))
	for i, a := range acts {
		ds[i] = delivery(a)
	}
	return ds
}

// The policy's mapped CRM user owns the phonecall, in a single push and in
// a batch; an assignment to the default assignee (not mapped) leaves the
// owner to the connector's own mapping and default owner.
func TestAssignmentOwner(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	d := e.connector(t, e.config(), dynamics.Options{Logger: zerolog.Nop()})
	ctx := context.Background()
	toBob := crmsync.Assignment{CRMUser: bob, Mapped: true}
	toQueue := crmsync.Assignment{CRMUser: alice, Mapped: false}
	if err := d.Push(ctx, crmsync.Delivery{Activity: activity("as1", bridge.Inbound, bridge.Connected, "+358401234567"), Assignment: toBob}); err != nil {
		t.Fatal(err)
	}
	errs := d.PushBatch(ctx, []crmsync.Delivery{
		{Activity: activity("as2", bridge.Inbound, bridge.Connected, "+358401234567"), Assignment: toBob},
		{Activity: activity("as3", bridge.Inbound, bridge.Connected, "+358401234567"), Assignment: toQueue},
	})
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	for id, want := range map[string]string{"as1": bob, "as2": bob, "as3": owner} {
		pc, _ := e.fake.Phonecall(dynamics.RecordID(id))
		if pc["_ownerid_value"] != want {
			t.Errorf("%s: owner %v, want %s", id, pc["_ownerid_value"], want)
		}
	}
}

// Who owns a phonecall, in order: the policy's mapping, this connector's
// own, the CRM user with the assignment's e-mail (policy.users.<ext>.email,
// policy.defaults.email), default_owner, the policy's default_assignee,
// and else the application user (no ownerid). An owner the CRM lacks is
// skipped, so the push succeeds instead of going to the dead letters.
func TestOwnerOrder(t *testing.T) {
	const ghost = "99999999-0000-4000-8000-000000000999"
	tests := []struct {
		name         string
		defaultOwner string
		as           crmsync.Assignment
		want         any // the phonecall's _ownerid_value; nil: none sent
	}{
		{"policy mapping", owner, crmsync.Assignment{CRMUser: bob, Mapped: true}, bob},
		{"policy mapping the CRM lacks", owner, crmsync.Assignment{CRMUser: ghost, Mapped: true}, owner},
		{"by the policy's e-mail", owner, crmsync.Assignment{Email: "BOB@example.com"}, bob},
		{"an e-mail of a disabled user", owner, crmsync.Assignment{Email: "carol@example.com"}, owner},
		{"default_owner before the default assignee", owner, crmsync.Assignment{CRMUser: alice}, owner},
		{"the policy's default assignee", "", crmsync.Assignment{CRMUser: alice}, alice},
		{"a default_owner the CRM lacks", ghost, crmsync.Assignment{CRMUser: alice}, alice},
		{"nobody: the application user", ghost, crmsync.Assignment{}, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, fakedataverse.Options{})
			cfg := e.config()
			cfg.DefaultOwner = tt.defaultOwner
			d := e.connector(t, cfg, dynamics.Options{Logger: zerolog.Nop()})
			ctx := context.Background()
			rep, err := d.SyncUsers(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if bad := tt.defaultOwner == ghost; bad != (len(rep.Problems) == 1) {
				t.Errorf("problems %q", rep.Problems)
			}
			a := activity(fmt.Sprint("own", i), bridge.Inbound, bridge.Connected, "+358401234567")
			a.User, a.LocalNumber = "150", "150"
			if err := d.Push(ctx, crmsync.Delivery{Activity: a, Assignment: tt.as}); err != nil {
				t.Fatal(err)
			}
			pc, _ := e.fake.Phonecall(dynamics.RecordID(a.ID))
			if got := pc["_ownerid_value"]; got != tt.want {
				t.Errorf("owner %v, want %v", got, tt.want)
			}
		})
	}
}

// default_owner is checked against the CRM's users at the first user sync
// (the daemon's start): the report says what is wrong, and the log too.
func TestDefaultOwnerChecked(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	cfg := e.config()
	cfg.DefaultOwner = carol // disabled
	var log strings.Builder
	d := e.connector(t, cfg, dynamics.Options{Logger: zerolog.New(&log)})
	rep, err := d.SyncUsers(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "default_owner " + carol + ": that system user is disabled; unmapped users' calls are owned by the policy's default_assignee if set, else the application user until it is fixed"
	if len(rep.Problems) != 1 || rep.Problems[0] != want {
		t.Errorf("problems %q, want %q", rep.Problems, want)
	}
	if !strings.Contains(log.String(), `"level":"error"`) || !strings.Contains(log.String(), "that system user is disabled") {
		t.Errorf("log: %s", log.String())
	}
}
