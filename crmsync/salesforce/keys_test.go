package salesforce_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/internal/fakehttp"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/crmsync/salesforce"
	"github.com/callbridge/callbridge/crmsync/salesforce/fakesalesforce"
)

// The salesforce section's keys, each shown doing what docs/config.md
// says, against the fake org.

func (e *env) watch() *fakehttp.Watch {
	w := &fakehttp.Watch{Handler: e.fake, Unheld: "/oauth2/"}
	e.srv.Config.Handler = w
	return w
}

// api_version is the REST API version in every data request's path.
func TestKeyAPIVersion(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{})
	w := e.watch()
	cfg := e.config()
	cfg.APIVersion = "58.0"
	s := e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, s, crmtest.Activity("ver"), crmsync.Assignment{})
	n := 0
	for _, r := range w.Requests() {
		if strings.Contains(r, "/services/data/") {
			n++
			if !strings.Contains(r, "/services/data/v58.0/") {
				t.Errorf("%s: not api_version 58.0", r)
			}
		}
	}
	if n == 0 {
		t.Fatal("no data request")
	}
	// A version the org does not serve is a refusal, not a silent default.
	cfg.APIVersion = "99.0"
	s = e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
	if err := s.Push(context.Background(), crmtest.Delivery("ver99")); err == nil {
		t.Error("api_version 99.0 accepted by an org serving up to 64.0")
	}
}

// client_id is the consumer key sent for a token; client_secret_credential
// is read from the systemd credentials directory, and a missing one is
// refused by its key's name.
func TestKeyClientIDAndSecretCredential(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{})
	cfg := e.config()
	cfg.ClientID = "3MVG9someOtherApp"
	s := e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
	if err := s.Push(context.Background(), crmtest.Delivery("cid")); err == nil || !strings.Contains(err.Error(), "invalid_client_id") {
		t.Errorf("another app's client_id: %v", err)
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sf-secret"), []byte(secret+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "sf-wrong"), []byte("not-the-secret\n"), 0o600)
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	cfg = e.config()
	cfg.ClientSecret, cfg.ClientSecretCredential = "", "sf-secret"
	crmtest.Push(t, e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()}), crmtest.Activity("cred"), crmsync.Assignment{})
	cfg.ClientSecretCredential = "sf-wrong"
	s = e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
	if err := s.Push(context.Background(), crmtest.Delivery("cred2")); !crmerr.IsUnauthorized(err) {
		t.Errorf("the wrong credential's secret: %v", err)
	}
	cfg.ClientSecretCredential = "sf-absent"
	if _, err := salesforce.New("sf", cfg, salesforce.Options{}); err == nil || !strings.Contains(err.Error(), "client_secret_credential") {
		t.Errorf("a missing credential: %v", err)
	}
}

// The JWT bearer flow's keys: private_key_file and private_key_credential
// are read, username is the token's subject, audience its aud.
func TestKeyJWTBearerKeys(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	dir := t.TempDir()
	file := filepath.Join(dir, "sf.key")
	os.WriteFile(file, keyPEM, 0o600)
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	e := newEnv(t, fakesalesforce.Options{PublicKey: &key.PublicKey, Audience: "https://test.salesforce.com"})
	base := salesforce.Config{URL: e.srv.URL, Auth: salesforce.AuthJWTBearer, ClientID: clientID, Username: "calls@example.com",
		Audience: "https://test.salesforce.com"}
	tests := []struct {
		name string
		set  func(*salesforce.Config)
		want string // "": the push succeeds; else what the error names
	}{
		{"private_key_file", func(c *salesforce.Config) { c.PrivateKeyFile = file }, ""},
		{"private_key_credential", func(c *salesforce.Config) { c.PrivateKeyCredential = "sf.key" }, ""},
		{"username of no user", func(c *salesforce.Config) { c.PrivateKeyFile, c.Username = file, "nobody@example.com" }, "invalid_grant"},
		{"audience left at production", func(c *salesforce.Config) { c.PrivateKeyFile, c.Audience = file, "" }, "invalid_grant"},
	}
	for i, tt := range tests {
		cfg := base
		tt.set(&cfg)
		s := e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
		err := s.Push(context.Background(), crmtest.Delivery(fmt.Sprint("jwt", i)))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want %s", tt.name, err, tt.want)
		}
	}
	for key, set := range map[string]func(*salesforce.Config){
		"private_key_file":       func(c *salesforce.Config) { c.PrivateKeyFile = filepath.Join(dir, "absent.key") },
		"private_key_credential": func(c *salesforce.Config) { c.PrivateKeyCredential = "absent.key" },
	} {
		cfg := base
		set(&cfg)
		if _, err := salesforce.New("sf", cfg, salesforce.Options{}); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s missing: %v", key, err)
		}
	}
}

// token_url replaces <url>/services/oauth2/token.
func TestKeyTokenURL(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{})
	var moved int
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/services/oauth2/token":
			http.NotFound(w, r)
			return
		case "/login/token":
			moved++
			r.URL.Path = "/services/oauth2/token"
		}
		e.fake.ServeHTTP(w, r)
	})
	cfg := e.config()
	s := e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
	if err := s.Push(context.Background(), crmtest.Delivery("tu0")); err == nil {
		t.Fatal("the token endpoint moved, yet the default one worked")
	}
	cfg.TokenURL = e.srv.URL + "/login/token"
	crmtest.Push(t, e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()}), crmtest.Activity("tu1"), crmsync.Assignment{})
	if moved != 1 {
		t.Errorf("%d token requests to token_url, want 1", moved)
	}
}

// template_field names the Task field the template code goes to;
// subjects.* are the subject lines per kind of call.
func TestKeyTemplateFieldAndSubjects(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{TaskFields: map[string]string{"Call_Code__c": "string"}})
	cfg := e.config()
	cfg.TemplateField = "Call_Code__c"
	cfg.Subjects = crmtest.SubjectTemplates()
	s := e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
	for _, tt := range crmtest.SubjectCases() {
		crmtest.Push(t, s, tt.Activity, crmsync.Assignment{Template: "VIP"})
		task, _ := e.fake.Task(tt.Activity.ID)
		if task["Subject"] != tt.Subject {
			t.Errorf("%s: Subject %v, want %q", tt.Activity.ID, task["Subject"], tt.Subject)
		}
		if task["Call_Code__c"] != "VIP" {
			t.Errorf("%s: Call_Code__c %v, want the template code", tt.Activity.ID, task["Call_Code__c"])
		}
	}
}

// max_concurrency caps requests in flight; batch_size is how many Tasks
// one sObject Collections request carries.
func TestKeyMaxConcurrencyAndBatchSize(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{})
	w := e.watch()
	w.SetHold(20 * time.Millisecond)
	cfg := e.config()
	cfg.MaxConcurrency, cfg.BatchSize = 2, 40
	s := e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, s, crmtest.Activity("warm"), crmsync.Assignment{})
	crmtest.PushAtOnce(t, s, "mc", 6)
	if most := w.Peak(); most != 2 {
		t.Errorf("%d requests in flight at most, want max_concurrency 2", most)
	}
	before := len(w.Requests())
	crmtest.PushBacklog(t, s, "bs", 100)
	collections := 0
	for _, r := range w.Requests()[before:] {
		if strings.HasSuffix(r, "/composite/sobjects") {
			collections++
		}
	}
	if collections != 3 {
		t.Errorf("%d sObject Collections requests for 100 Tasks, want 3 with batch_size 40", collections)
	}
}

// timeout bounds one request: an org that does not answer is a
// retryable timeout.
func TestKeyTimeout(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{})
	silent, release := fakehttp.Silence(e.fake, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/sobjects/Task") })
	defer release()
	e.srv.Config.Handler = silent
	cfg := e.config()
	cfg.Timeout = 50 * time.Millisecond
	s := e.connector(t, cfg, salesforce.Options{Logger: zerolog.Nop()})
	crmtest.PushTimesOut(t, s, "org")
}

// recognition.entities[].org_field: the field read as a person's
// organisation: the Org of its matches; empty, none.
func TestKeyRecognitionOrgField(t *testing.T) {
	e := newEnv(t, fakesalesforce.Options{})
	s := e.connector(t, e.config(), salesforce.Options{Logger: zerolog.Nop()})
	for _, org := range []string{"AccountId", ""} {
		contact := phoneindex.Entity{Name: "contact", EntitySet: "Contact", Key: "Id", NameField: "Name", OrgField: org,
			PhoneFields: []string{"Phone", "MobilePhone"}, Kind: phoneindex.Person}
		in, err := phoneindex.Open(context.Background(), "sf", s, phoneindex.FileStore{Dir: t.TempDir()},
			phoneindex.Settings{Region: "FI", Enabled: true, Entities: []phoneindex.Entity{contact}}, phoneindex.IntegrationOptions{Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		if err := in.Sync(context.Background(), true); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"AccountId": e.account, "": ""}[org]
		if m, ok := in.Lookup("+358401234567"); !ok || m.Best.ID != e.contact || m.Best.Org != want {
			t.Errorf("org_field %q: %+v %v, want Org %q", org, m.Best, ok, want)
		}
	}
}
