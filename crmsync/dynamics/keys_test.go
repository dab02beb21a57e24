package dynamics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/dynamics"
	"github.com/callbridge/callbridge/crmsync/dynamics/fakedataverse"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// The dynamics section's keys, each shown doing what docs/config.md says.

// roundTrip is an http.RoundTripper from a function.
type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// tenant_id, client_id and scope make the token request: to Entra's
// endpoint of the tenant (no token_url), for <url>/.default unless scope
// says otherwise. The request never leaves the test: the client's
// transport answers it.
func TestKeyTenantClientAndScope(t *testing.T) {
	for _, scope := range []string{"", "https://contoso.crm4.dynamics.com/user_impersonation"} {
		var got *http.Request
		var form url.Values
		client := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			got = r
			b, _ := io.ReadAll(r.Body)
			form, _ = url.ParseQuery(string(b))
			return &http.Response{StatusCode: http.StatusBadRequest, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(`{"error":"invalid_client"}`)), Request: r}, nil
		})}
		d, err := dynamics.New("dyn", dynamics.Config{URL: "https://contoso.crm4.dynamics.com", TenantID: "contoso.onmicrosoft.com",
			ClientID: clientID, ClientSecret: secret, Scope: scope}, dynamics.Options{Logger: zerolog.Nop(), Client: client})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Push(context.Background(), delivery(activity("tok", bridge.Inbound, bridge.Connected, "+358401234567"))); err == nil {
			t.Fatal("push without a token succeeded")
		}
		if got == nil {
			t.Fatal("no token request")
		}
		want := scope
		if want == "" {
			want = "https://contoso.crm4.dynamics.com/.default"
		}
		if u := got.URL.String(); u != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" {
			t.Errorf("token URL %s", u)
		}
		id, _, _ := got.BasicAuth()
		if id == "" {
			id = form.Get("client_id")
		}
		if id != clientID || form.Get("scope") != want {
			t.Errorf("client %q, scope %q; want %q, %q", id, form.Get("scope"), clientID, want)
		}
	}
}

// client_secret_credential: the secret is the systemd credential's.
func TestKeyClientSecretCredential(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dynamics-secret"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	cfg := e.config()
	cfg.ClientSecret, cfg.ClientSecretCredential = "", "dynamics-secret"
	d := e.connector(t, cfg, dynamics.Options{Logger: zerolog.Nop()})
	if err := d.Push(context.Background(), delivery(activity("cred", bridge.Inbound, bridge.Connected, "+358401234567"))); err != nil {
		t.Fatal(err)
	}
}

// counting wraps the fake: requests in flight at most, and $batch calls.
type counting struct {
	http.Handler
	mu              sync.Mutex
	inFlight, most  int
	batches, holdMs int
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.inFlight++
	c.most = max(c.most, c.inFlight)
	if strings.HasSuffix(r.URL.Path, "/$batch") {
		c.batches++
	}
	hold := c.holdMs
	c.mu.Unlock()
	if !strings.HasSuffix(r.URL.Path, "/token") {
		time.Sleep(time.Duration(hold) * time.Millisecond) // lets pushes overlap
	}
	c.Handler.ServeHTTP(w, r)
	c.mu.Lock()
	c.inFlight--
	c.mu.Unlock()
}

// max_concurrency caps requests in flight; batch_size is how many
// activities go in one $batch.
func TestKeyMaxConcurrencyAndBatchSize(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	c := &counting{Handler: e.fake, holdMs: 20}
	e.srv.Config.Handler = c
	cfg := e.config()
	cfg.MaxConcurrency, cfg.BatchSize = 2, 3
	d := e.connector(t, cfg, dynamics.Options{Logger: zerolog.Nop()})
	ctx := context.Background()
	if err := d.Push(ctx, delivery(activity("warm", bridge.Inbound, bridge.Connected, "+358401234567"))); err != nil {
		t.Fatal(err) // the token, fetched once
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Push(ctx, delivery(activity(fmt.Sprint("mc", i), bridge.Inbound, bridge.Connected, "+358401234567"))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if c.most != 2 {
		t.Errorf("%d requests in flight at most, want max_concurrency 2", c.most)
	}
	var acts []bridge.Activity
	for i := range 7 {
		acts = append(acts, activity(fmt.Sprint("bs", i), bridge.Inbound, bridge.Connected, "+358401234567"))
	}
	for i, err := range d.PushBatch(ctx, deliveries(acts)) {
		if err != nil {
			t.Errorf("activity %d: %v", i, err)
		}
	}
	// 7 activities, 3 a batch: 3 $batch requests.
	if c.batches != 3 {
		t.Errorf("%d $batch requests for 7 activities, want 3 with batch_size 3", c.batches)
	}
}

// timeout bounds one request: a Dataverse that does not answer is a
// retryable failure.
func TestKeyTimeout(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	release := make(chan struct{})
	defer close(release)
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "phonecalls") {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		e.fake.ServeHTTP(w, r)
	})
	cfg := e.config()
	cfg.Timeout = 50 * time.Millisecond
	d := e.connector(t, cfg, dynamics.Options{Logger: zerolog.Nop()})
	err := d.Push(context.Background(), delivery(activity("slow", bridge.Inbound, bridge.Connected, "+358401234567")))
	if err == nil || crmerr.IsPermanent(err) {
		t.Fatalf("push to a silent Dataverse: %v", err)
	}
	var ue interface{ Timeout() bool }
	if !errors.As(err, &ue) || !ue.Timeout() {
		t.Errorf("not a timeout: %v", err)
	}
}

// subjects.* per kind of call, and missed / unaccepted: how missed and
// unaccepted calls are left (open: a to-do to call back; canceled).
func TestKeySubjectsAndCompletion(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	cfg := e.config()
	cfg.Users = map[string]dynamics.UserConfig{"101": {CRMUser: alice}}
	cfg.Subjects = dynamics.Subjects{Incoming: "IN {{.Number}}", Outgoing: "OUT {{.Number}}",
		MissedIncoming: "MISSED {{.Number}}", UnacceptedOutgoing: "NOANSWER {{.Number}}"}
	cfg.Missed, cfg.Unaccepted = dynamics.LeaveOpen, dynamics.LeaveCanceled
	d := e.connector(t, cfg, dynamics.Options{Logger: zerolog.Nop()})
	for _, tt := range []struct {
		a             bridge.Activity
		subject       string
		state, status string
	}{
		{activity("k-in", bridge.Inbound, bridge.Connected, "+358401234567"), "IN +358401234567", "1", "4"},
		{activity("k-out", bridge.Outbound, bridge.Connected, "+358401234567"), "OUT +358401234567", "1", "2"},
		{activity("k-miss", bridge.Inbound, bridge.Missed, "+358401234567"), "MISSED +358401234567", "0", "1"},
		{activity("k-noans", bridge.Outbound, bridge.Unaccepted, "+358401234567"), "NOANSWER +358401234567", "2", "3"},
	} {
		if err := d.Push(context.Background(), delivery(tt.a)); err != nil {
			t.Fatal(err)
		}
		pc, _ := e.fake.Phonecall(dynamics.RecordID(tt.a.ID))
		st, _ := pc["statecode"].(json.Number)
		sc, _ := pc["statuscode"].(json.Number)
		if pc["subject"] != tt.subject || st.String() != tt.state || sc.String() != tt.status {
			t.Errorf("%s: subject %v, state %v/%v; want %s, %s/%s", tt.a.ID, pc["subject"], st, sc, tt.subject, tt.state, tt.status)
		}
	}
}

// recognition.entities: which table (entity_set, key, name), which
// attributes hold the name and the numbers, and whether its records are
// people or organisations (type). Only the listed phone fields are
// numbers; a person wins a number over an organisation.
func TestKeyRecognitionEntities(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	const shared = "22222222-2222-4222-8222-222222222222"
	e.fake.AddRecord("contacts", fakedataverse.Record{"contactid": shared, "fullname": "Maija M", "firstname": "Maija",
		"telephone2": "09 555 0100", "mobilephone": "040 555 0199"})
	d := e.connector(t, e.config(), dynamics.Options{Logger: zerolog.Nop()})
	entities := []phoneindex.Entity{
		{Name: "contact", EntitySet: "contacts", Key: "contactid", NameField: "firstname", PhoneFields: []string{"telephone2"}, Kind: phoneindex.Organisation},
		{Name: "account", EntitySet: "accounts", Key: "accountid", NameField: "name", PhoneFields: []string{"telephone1"}, Kind: phoneindex.Person},
	}
	in, err := phoneindex.Open(context.Background(), "dyn", d, phoneindex.FileStore{Dir: t.TempDir()},
		phoneindex.Settings{Region: "FI", Enabled: true, Entities: entities}, phoneindex.IntegrationOptions{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Sync(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	m, ok := in.Lookup("095550100")
	if !ok || m.Best.ID != shared || m.Best.Name != "Maija" || m.Best.Kind != phoneindex.Organisation || m.Best.EntitySet != "contacts" {
		t.Errorf("telephone2: %+v %v", m, ok)
	}
	if _, ok := in.Lookup("0405550199"); ok {
		t.Error("mobilephone is not among the phone fields, yet it matched")
	}
	// The account (+358 9 876 5432) is a person here.
	if m, ok := in.Lookup("098765432"); !ok || m.Best.Kind != phoneindex.Person || m.Best.Entity != "account" || m.Best.Name != "Acme Oy" {
		t.Errorf("account: %+v %v", m, ok)
	}
}
