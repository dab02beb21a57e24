package creatio_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/creatio"
	"github.com/callbridge/callbridge/crmsync/creatio/fakecreatio"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/internal/fakehttp"
)

// The creatio section's keys, each shown doing what docs/config.md says,
// against the fake site.

// odata_path is where the OData service is: a .NET Core site's /odata.
func TestKeyODataPath(t *testing.T) {
	e := newEnv(t, fakecreatio.Options{ODataPath: "/odata"})
	cfg := e.config()
	if err := e.connector(t, cfg, creatio.Options{Logger: zerolog.Nop()}).Push(context.Background(),
		crmtest.Delivery("op0")); err == nil {
		t.Fatal("the default /0/odata worked on a site serving /odata")
	}
	cfg.ODataPath = "/odata"
	crmtest.Push(t, e.connector(t, cfg, creatio.Options{Logger: zerolog.Nop()}), crmtest.Activity("op1"), crmsync.Assignment{})
	if e.count("op1") != 2 {
		t.Errorf("%d records under odata_path /odata, want 2", e.count("op1"))
	}
}

// identity_url is where the token comes from, not the site.
func TestKeyIdentityURL(t *testing.T) {
	e := newEnv(t, fakecreatio.Options{})
	var tokens int
	var mu sync.Mutex
	identity := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/connect/token" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		tokens++
		mu.Unlock()
		e.fake.ServeHTTP(w, r)
	}))
	defer identity.Close()
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/connect/token" {
			http.NotFound(w, r) // the site is not its identity service
			return
		}
		e.fake.ServeHTTP(w, r)
	})
	cfg := e.config()
	if err := e.connector(t, cfg, creatio.Options{Logger: zerolog.Nop()}).Push(context.Background(),
		crmtest.Delivery("id0")); err == nil {
		t.Fatal("a token from the site, which has no identity service")
	}
	cfg.IdentityURL = identity.URL
	crmtest.Push(t, e.connector(t, cfg, creatio.Options{Logger: zerolog.Nop()}), crmtest.Activity("id1"), crmsync.Assignment{})
	mu.Lock()
	defer mu.Unlock()
	if tokens != 1 {
		t.Errorf("%d token requests to identity_url, want 1", tokens)
	}
}

// The credentials: client_id, the client secret's and the password's
// sources, username. Each form is read; a wrong value is refused, and a
// missing file or credential is refused by its key's name.
func TestKeyCredentials(t *testing.T) {
	e := newEnv(t, fakecreatio.Options{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "secret"), []byte(clientSecret+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "password"), []byte(password+"\n"), 0o600)
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	tests := []struct {
		name  string
		forms bool
		set   func(*creatio.Config)
		ok    bool
	}{
		{"client_id of another client", false, func(c *creatio.Config) { c.ClientID = "another-client" }, false},
		{"client_secret of another client", false, func(c *creatio.Config) { c.ClientSecret = "another-secret" }, false},
		{"client_secret_file", false, func(c *creatio.Config) { c.ClientSecret, c.ClientSecretFile = "", filepath.Join(dir, "secret") }, true},
		{"client_secret_credential", false, func(c *creatio.Config) { c.ClientSecret, c.ClientSecretCredential = "", "secret" }, true},
		{"client_secret_file holding the password", false, func(c *creatio.Config) { c.ClientSecret, c.ClientSecretFile = "", filepath.Join(dir, "password") }, false},
		{"username of another user", true, func(c *creatio.Config) { c.Username = "Manager" }, false},
		{"password_file", true, func(c *creatio.Config) { c.Password, c.PasswordFile = "", filepath.Join(dir, "password") }, true},
		{"password_credential", true, func(c *creatio.Config) { c.Password, c.PasswordCredential = "", "password" }, true},
		{"password_credential holding the secret", true, func(c *creatio.Config) { c.Password, c.PasswordCredential = "", "secret" }, false},
	}
	for i, tt := range tests {
		cfg := e.config()
		if tt.forms {
			cfg = e.forms()
		}
		tt.set(&cfg)
		err := e.connector(t, cfg, creatio.Options{Logger: zerolog.Nop()}).Push(context.Background(),
			crmtest.Delivery(fmt.Sprint("cr", i)))
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case !tt.ok && !crmerr.IsUnauthorized(err):
			t.Errorf("%s: %v, want unauthorized", tt.name, err)
		}
	}
	for key, set := range map[string]func(*creatio.Config){
		"client_secret_file":       func(c *creatio.Config) { c.ClientSecret, c.ClientSecretFile = "", filepath.Join(dir, "absent") },
		"client_secret_credential": func(c *creatio.Config) { c.ClientSecret, c.ClientSecretCredential = "", "absent" },
		"password_file":            func(c *creatio.Config) { *c = e.forms(); c.Password, c.PasswordFile = "", filepath.Join(dir, "absent") },
		"password_credential":      func(c *creatio.Config) { *c = e.forms(); c.Password, c.PasswordCredential = "", "absent" },
	} {
		cfg := e.config()
		set(&cfg)
		if _, err := creatio.New("creatio", cfg, creatio.Options{}); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s missing: %v", key, err)
		}
	}
}

// template_field names the column the template code goes to; subjects.*
// are the Call's caption and the Activity's title per kind of call.
func TestKeyTemplateFieldAndSubjects(t *testing.T) {
	e := newEnv(t, fakecreatio.Options{ActivityColumns: []string{"UsrPbxCode"}, CallColumns: []string{"UsrPbxCode"}})
	cfg := e.config()
	cfg.TemplateField = "UsrPbxCode"
	cfg.Subjects = crmtest.SubjectTemplates()
	k := e.connector(t, cfg, creatio.Options{Logger: zerolog.Nop()})
	for _, tt := range crmtest.SubjectCases() {
		crmtest.Push(t, k, tt.Activity, crmsync.Assignment{Template: "VIP"})
		call, _ := e.fake.Get("Call", creatio.RecordID(tt.Activity.ID, "call"))
		act, _ := e.fake.Get("Activity", creatio.RecordID(tt.Activity.ID, "activity"))
		if call["Caption"] != tt.Subject || act["Title"] != tt.Subject {
			t.Errorf("%s: Caption %v Title %v, want %q", tt.Activity.ID, call["Caption"], act["Title"], tt.Subject)
		}
		if call["UsrPbxCode"] != "VIP" || act["UsrPbxCode"] != "VIP" {
			t.Errorf("%s: UsrPbxCode %v %v, want the template code", tt.Activity.ID, call["UsrPbxCode"], act["UsrPbxCode"])
		}
	}
}

// max_concurrency caps requests in flight.
func TestKeyMaxConcurrency(t *testing.T) {
	e := newEnv(t, fakecreatio.Options{})
	w := fakehttp.Watching(e.srv, e.fake)
	cfg := e.config()
	cfg.MaxConcurrency = 2
	k := e.connector(t, cfg, creatio.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, k, crmtest.Activity("warm"), crmsync.Assignment{})
	w.SetHold(20 * time.Millisecond)
	crmtest.PushAtOnce(t, k, "mc", 6)
	if most := w.Peak(); most != 2 {
		t.Errorf("%d requests in flight at most, want max_concurrency 2", most)
	}
}

// timeout bounds one request: a site that does not answer is a
// retryable timeout.
func TestKeyTimeout(t *testing.T) {
	e := newEnv(t, fakecreatio.Options{})
	silent, release := fakehttp.Silence(e.fake, func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/0/odata/")
	})
	defer release()
	e.srv.Config.Handler = silent
	cfg := e.config()
	cfg.Timeout = 50 * time.Millisecond
	k := e.connector(t, cfg, creatio.Options{Logger: zerolog.Nop()})
	crmtest.PushTimesOut(t, k, "site")
}
