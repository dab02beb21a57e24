package pipedrive_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
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
	"github.com/callbridge/callbridge/crmsync/pipedrive"
	"github.com/callbridge/callbridge/crmsync/pipedrive/fakepipedrive"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	adminToken = "5f3c9a1e7d2b4c6a8e0f1a2b3c4d5e6f7a8b9c0d"
	userToken  = "0d9c8b7a6f5e4d3c2b1a0f8e6a4c2b7d1e9a3c5f"
)

type env struct {
	fake                          *fakepipedrive.Server
	srv                           *httptest.Server
	clock                         *crmtest.Clock
	admin, alice, bob, carol      int
	person, org, person2, orgOnly int
}

func newEnv(t testing.TB, opts fakepipedrive.Options) *env {
	t.Helper()
	e := &env{clock: crmtest.NewClock()}
	if opts.Now == nil {
		opts.Now = e.clock.Now
	}
	e.admin, e.alice, e.bob, e.carol = 1, 2, 3, 4
	if opts.APITokens == nil {
		opts.APITokens = map[string]int{adminToken: e.admin, userToken: e.bob}
	}
	e.fake = fakepipedrive.New(opts)
	e.srv = httptest.NewServer(e.fake)
	t.Cleanup(e.srv.Close)
	e.fake.AddUser(fakepipedrive.User{ID: e.admin, Name: "Admin", Email: "calls@example.com", Active: true, Admin: true})
	e.fake.AddUser(fakepipedrive.User{ID: e.alice, Name: "Alice", Email: "Alice@Example.com", Active: true})
	e.fake.AddUser(fakepipedrive.User{ID: e.bob, Name: "Bob", Email: "bob@example.com", Active: true})
	e.fake.AddUser(fakepipedrive.User{ID: e.carol, Name: "Carol", Email: "carol@example.com", Active: false})
	e.org = e.fake.AddOrganization(map[string]any{"name": "Acme Oy"})
	e.person = e.fake.AddPerson(map[string]any{"name": "Maija Meikäläinen", "org_id": e.org,
		"phones": []any{map[string]any{"value": "040 123 4567", "primary": true, "label": "mobile"}}})
	e.person2 = e.fake.AddPerson(map[string]any{"name": "Pekka Puhelin",
		"phones": []any{map[string]any{"value": "+358 50 111 2222", "primary": true, "label": "work"}}})
	return e
}

func (e *env) config() pipedrive.Config {
	return pipedrive.Config{URL: e.srv.URL, APIToken: adminToken, CompanyDomain: "acme", Timeout: 5 * time.Second}
}

func (e *env) connector(t testing.TB, cfg pipedrive.Config, opts pipedrive.Options) *pipedrive.Pipedrive {
	t.Helper()
	if opts.Now == nil {
		opts.Now = e.clock.Now
	}
	p, err := pipedrive.New("pd", cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// count is how many call logs carry id's marker.
func (e *env) count(id string) int {
	n := 0
	for _, a := range e.fake.Activities() {
		if a.CallLogID != "" && strings.HasSuffix(a.Subject, pipedrive.Marker(id)) {
			n++
		}
	}
	return n
}

func (e *env) callLog(id string) (fakepipedrive.Activity, bool) {
	for _, a := range e.fake.Activities() {
		if strings.HasSuffix(a.Subject, pipedrive.Marker(id)) {
			return a, true
		}
	}
	return fakepipedrive.Activity{}, false
}

func recognizer(t testing.TB, p *pipedrive.Pipedrive) *phoneindex.Integration {
	return crmtest.Recognizer(t, "pd", p, pipedrive.DefaultEntities())
}

func TestConformance(t *testing.T) {
	e := newEnv(t, fakepipedrive.Options{Now: time.Now})
	crmtest.Run(t, crmtest.Harness{
		New: func(t *testing.T, base string, log zerolog.Logger) crmtest.Connector {
			cfg := e.config()
			cfg.URL = base
			p, err := pipedrive.New("pd", cfg, pipedrive.Options{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		Fake:     e.fake,
		Count:    e.count,
		Secrets:  []string{adminToken},
		Entities: pipedrive.DefaultEntities(),
	})
}

func TestCallLogFields(t *testing.T) {
	e := newEnv(t, fakepipedrive.Options{})
	cfg := e.config()
	cfg.DefaultOwner = strconv.Itoa(e.admin)
	p := e.connector(t, cfg, pipedrive.Options{Logger: zerolog.Nop()})
	p2 := e.connector(t, cfg, pipedrive.Options{Logger: zerolog.Nop(), Recognizer: recognizer(t, p)})
	if _, err := p2.SyncUsers(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	out := crmtest.Call("out", bridge.Outbound, bridge.Unaccepted, "+358501112222")
	out.Reason = bridge.ReasonBusy
	tests := []struct {
		name string
		a    bridge.Activity
		as   crmsync.Assignment
		want map[string]string
		who  [3]int // user, person, org
	}{
		{"inbound answered from a person: on the person and the organisation", crmtest.Activity("in"),
			crmsync.Assignment{Email: "alice@example.com", Template: "SUPPORT"},
			map[string]string{"outcome": "connected", "duration": "2", "from_phone_number": "+358401234567", "to_phone_number": "+35850111222",
				"start_time": "2026-11-21 16:11:10", "end_time": "2026-11-21 16:11:14"}, [3]int{e.alice, e.person, e.org}},
		{"outbound busy, an inactive user: the default owner", out, crmsync.Assignment{Email: "carol@example.com"},
			map[string]string{"outcome": "busy", "duration": "0", "from_phone_number": "101", "to_phone_number": "+358501112222"}, [3]int{e.admin, e.person2, 0}},
		{"missed, the policy's user", crmtest.Call("miss", bridge.Inbound, bridge.Missed, "+358509999999"), crmsync.Assignment{CRMUser: strconv.Itoa(e.bob), Mapped: true},
			map[string]string{"outcome": "no_answer"}, [3]int{e.bob, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crmtest.Push(t, p2, tt.a, tt.as)
			a, ok := e.callLog(tt.a.ID)
			if !ok {
				t.Fatal("no call log")
			}
			for k, want := range tt.want {
				if got := fmt.Sprint(a.CallLog[k]); got != want {
					t.Errorf("%s = %s, want %s", k, got, want)
				}
			}
			if [3]int{a.UserID, a.PersonID, a.OrgID} != tt.who {
				t.Errorf("user, person, org = %d %d %d, want %v", a.UserID, a.PersonID, a.OrgID, tt.who)
			}
			if tt.as.Template != "" && !strings.Contains(a.Note, "Template: "+tt.as.Template) {
				t.Errorf("note %q lacks the template code", a.Note)
			}
			if !strings.Contains(a.Note, "Call id: 1763741470.0") {
				t.Errorf("note %q", a.Note)
			}
		})
	}
}

// A lost answer: the retry finds the call activity by the marker in its
// subject and adds nothing twice, whichever process retries.
func TestLostAnswerFindsTheMarker(t *testing.T) {
	e := newEnv(t, fakepipedrive.Options{})
	p := e.connector(t, e.config(), pipedrive.Options{Logger: zerolog.Nop()})
	a := crmtest.Activity("lost-1")
	as := crmsync.Assignment{CRMUser: strconv.Itoa(e.alice), Mapped: true}
	e.fake.LoseNext("POST", "/api/v1/callLogs", 1)
	if err := p.Push(context.Background(), crmsync.Delivery{Activity: a, Assignment: as}); err == nil || crmerr.IsPermanent(err) {
		t.Fatalf("lost answer: %v", err)
	}
	crmtest.Push(t, p, a, as)
	b := crmtest.Activity("lost-2")
	e.fake.LoseNext("POST", "/api/v1/callLogs", 1)
	p.Push(context.Background(), crmsync.Delivery{Activity: b, Assignment: as})
	e.clock.Add(2 * time.Minute)
	crmtest.Push(t, e.connector(t, e.config(), pipedrive.Options{Logger: zerolog.Nop()}), b, as)
	for _, id := range []string{a.ID, b.ID} {
		if n := e.count(id); n != 1 {
			t.Errorf("%s: %d call logs", id, n)
		}
	}
}

// Pipedrive ignores fields a call log does not have; the connector relies
// on none: the marker lives in the subject, which the call activity
// carries.
func TestNoRelianceOnDroppedFields(t *testing.T) {
	e := newEnv(t, fakepipedrive.Options{})
	p := e.connector(t, e.config(), pipedrive.Options{Logger: zerolog.Nop()})
	a := crmtest.Activity("fields")
	crmtest.Push(t, p, a, crmsync.Assignment{})
	got, _ := e.callLog(a.ID)
	for k := range got.CallLog {
		switch k {
		case "outcome", "to_phone_number", "from_phone_number", "start_time", "end_time", "subject", "duration", "note", "user_id", "person_id", "org_id":
		default:
			t.Errorf("the fake kept %s", k)
		}
	}
	if !strings.HasSuffix(got.Subject, pipedrive.Marker(a.ID)) {
		t.Errorf("subject %q has no marker", got.Subject)
	}
}

func TestSyncUsers(t *testing.T) {
	e := newEnv(t, fakepipedrive.Options{})
	p := e.connector(t, e.config(), pipedrive.Options{Logger: zerolog.Nop()})
	rep, err := p.SyncUsers(context.Background(), []bridge.User{
		{Extension: "101", Email: "alice@example.com"}, {Extension: "102", Email: "bob@EXAMPLE.com"},
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
	e := newEnv(t, fakepipedrive.Options{})
	p := e.connector(t, e.config(), pipedrive.Options{Logger: zerolog.Nop()})
	in := recognizer(t, p)
	m, ok := in.Lookup("+358401234567")
	if !ok || m.Best.ID != strconv.Itoa(e.person) || m.Best.Name != "Maija Meikäläinen" || m.Best.Org != strconv.Itoa(e.org) ||
		m.Best.URL != "https://acme.pipedrive.com/person/"+strconv.Itoa(e.person) {
		t.Fatalf("person: %+v %v", m.Best, ok)
	}
	e.clock.Add(time.Hour)
	e.fake.AddPerson(map[string]any{"name": "Uusi", "phones": []any{map[string]any{"value": "+358 20 555 0000"}}})
	e.fake.DeletePerson(e.person2)
	crmtest.Resync(t, in, "+358205550000", "a new person", "+358501112222", "a deleted person")
}

func TestLimits(t *testing.T) {
	e := newEnv(t, fakepipedrive.Options{Burst: 1})
	p := e.connector(t, e.config(), pipedrive.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, p, crmtest.Activity("b1"), crmsync.Assignment{})
	err := p.Push(context.Background(), crmtest.Delivery("b2"))
	if d, ok := crmerr.RetryAfter(err); crmerr.IsPermanent(err) || !ok || d != 2*time.Second {
		t.Fatalf("burst: %v", err)
	}
	e = newEnv(t, fakepipedrive.Options{Budget: 15})
	p = e.connector(t, e.config(), pipedrive.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, p, crmtest.Activity("d1"), crmsync.Assignment{})
	err = p.Push(context.Background(), crmtest.Delivery("d2"))
	if d, ok := crmerr.RetryAfter(err); crmerr.IsPermanent(err) || !ok || d < time.Second || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("budget: %v", err)
	}
}

func TestOAuth(t *testing.T) {
	e := newEnv(t, fakepipedrive.Options{ClientID: "app", ClientSecret: "app-secret-1234", RefreshToken: "refresh:first-0001", OAuthUser: 1})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rt"), []byte("refresh:first-0001\n"), 0o600)
	cfg := pipedrive.Config{URL: e.srv.URL, TokenURL: e.srv.URL + "/oauth/token", Auth: pipedrive.AuthOAuth, ClientID: "app",
		ClientSecret: "app-secret-1234", RefreshTokenFile: filepath.Join(dir, "rt"), CompanyDomain: "acme"}
	p := e.connector(t, cfg, pipedrive.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, p, crmtest.Activity("o1"), crmsync.Assignment{})
	// The access token expires: refreshed once with the refresh token
	// Pipedrive handed out last time (the first one is retired).
	e.fake.ExpireTokens()
	crmtest.Push(t, p, crmtest.Activity("o2"), crmsync.Assignment{})
	if _, _, tokens := e.fake.Stats(); tokens != 2 {
		t.Errorf("%d token requests", tokens)
	}
	cfg.ClientSecret = "wrong-secret-99"
	err := e.connector(t, cfg, pipedrive.Options{Logger: zerolog.Nop()}).Push(context.Background(), crmtest.Delivery("o3"))
	if !crmerr.IsUnauthorized(err) || strings.Contains(err.Error(), "wrong-secret-99") {
		t.Fatalf("a wrong client secret: %v", err)
	}
}

func TestPermanentErrors(t *testing.T) {
	e := newEnv(t, fakepipedrive.Options{})
	cfg := e.config()
	cfg.APIToken = userToken // Bob, no account settings access
	p := e.connector(t, cfg, pipedrive.Options{Logger: zerolog.Nop()})
	err := p.Push(context.Background(), crmsync.Delivery{Activity: crmtest.Activity("f1"),
		Assignment: crmsync.Assignment{CRMUser: strconv.Itoa(e.alice), Mapped: true}})
	if !crmerr.IsPermanent(err) || !strings.Contains(err.Error(), "permission") {
		t.Errorf("logging for another user without the right: %v", err)
	}
	err = e.connector(t, e.config(), pipedrive.Options{Logger: zerolog.Nop()}).Push(context.Background(), crmsync.Delivery{
		Activity: crmtest.Activity("f2"), Assignment: crmsync.Assignment{CRMUser: "alice", Mapped: true}})
	if !crmerr.IsPermanent(err) {
		t.Errorf("a non-numeric owner: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	err := pipedrive.Config{Auth: "password", URL: "ftp://x", CompanyDomain: "acme.pipedrive.com", DefaultOwner: "bob", MaxConcurrency: 21,
		Subjects: pipedrive.Subjects{Incoming: "{{.X}}"}}.Validate()
	for _, k := range []string{"auth:", "url:", "company_domain:", "default_owner:", "max_concurrency:", "subjects.incoming:"} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("no problem named %s in:\n%v", k, err)
		}
	}
	err = pipedrive.Config{Auth: pipedrive.AuthOAuth, APIToken: "x"}.Validate()
	for _, k := range []string{"api_token: not for auth oauth", "client_id:", "client_secret:", "refresh_token:"} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("no problem named %s in:\n%v", k, err)
		}
	}
	if err := (pipedrive.Config{APIToken: "t"}).Validate(); err != nil {
		t.Error(err)
	}
}

func backlog(n int) []crmsync.Delivery {
	out := make([]crmsync.Delivery, n)
	for i := range out {
		a := crmtest.Activity(fmt.Sprintf("drain-%05d", i))
		a.EndedAt = time.Now() // fresh: no lookups
		out[i] = crmtest.DeliveryOf(a)
	}
	return out
}
