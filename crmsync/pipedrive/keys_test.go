package pipedrive_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/internal/fakehttp"
	"github.com/callbridge/callbridge/crmsync/pipedrive"
	"github.com/callbridge/callbridge/crmsync/pipedrive/fakepipedrive"
)

// The pipedrive section's keys, each shown doing what docs/config.md
// says, against the fake company.

// api_token_file and api_token_credential are read; a missing one is
// refused by its key's name.
func TestKeyAPITokenSources(t *testing.T) {
	e := newEnv(t, fakepipedrive.Options{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "admin"), []byte(adminToken+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "bob"), []byte(userToken+"\n"), 0o600)
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	for i, set := range []func(*pipedrive.Config){
		func(c *pipedrive.Config) { c.APIToken, c.APITokenFile = "", filepath.Join(dir, "admin") },
		func(c *pipedrive.Config) { c.APIToken, c.APITokenCredential = "", "admin" },
	} {
		cfg := e.config()
		set(&cfg)
		crmtest.Push(t, e.connector(t, cfg, pipedrive.Options{Logger: zerolog.Nop()}), crmtest.Activity(fmt.Sprint("tok", i)),
			crmsync.Assignment{CRMUser: strconv.Itoa(e.alice), Mapped: true})
		if a, _ := e.callLog(fmt.Sprint("tok", i)); a.UserID != e.alice {
			t.Errorf("source %d: logged for user %d", i, a.UserID)
		}
	}
	// Bob's token, by credential: his user may not log calls for Alice.
	cfg := e.config()
	cfg.APIToken, cfg.APITokenCredential = "", "bob"
	err := e.connector(t, cfg, pipedrive.Options{Logger: zerolog.Nop()}).Push(context.Background(), crmsync.Delivery{
		Activity: crmtest.Activity("tok-bob"), Assignment: crmsync.Assignment{CRMUser: strconv.Itoa(e.alice), Mapped: true}})
	if !crmerr.IsPermanent(err) || !strings.Contains(err.Error(), "permission") {
		t.Errorf("bob's token from the credential: %v", err)
	}
	for key, set := range map[string]func(*pipedrive.Config){
		"api_token_file":       func(c *pipedrive.Config) { c.APIToken, c.APITokenFile = "", filepath.Join(dir, "absent") },
		"api_token_credential": func(c *pipedrive.Config) { c.APIToken, c.APITokenCredential = "", "absent" },
	} {
		cfg := e.config()
		set(&cfg)
		if _, err := pipedrive.New("pd", cfg, pipedrive.Options{}); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s missing: %v", key, err)
		}
	}
}

// OAuth: client_id, the secret's and the refresh token's sources; each
// form is read, and a wrong value is refused.
func TestKeyOAuthSources(t *testing.T) {
	const id, sec, rt = "app", "app-secret-1234", "refresh:first-0001"
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "secret"), []byte(sec+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "rt"), []byte(rt+"\n"), 0o600)
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	tests := []struct {
		name string
		set  func(*pipedrive.Config)
		ok   bool
	}{
		{"client_id of another app", func(c *pipedrive.Config) { c.ClientID = "other-app" }, false},
		{"client_secret_file", func(c *pipedrive.Config) { c.ClientSecret, c.ClientSecretFile = "", filepath.Join(dir, "secret") }, true},
		{"client_secret_credential", func(c *pipedrive.Config) { c.ClientSecret, c.ClientSecretCredential = "", "secret" }, true},
		{"client_secret_credential holding the refresh token", func(c *pipedrive.Config) { c.ClientSecret, c.ClientSecretCredential = "", "rt" }, false},
		{"refresh_token", func(c *pipedrive.Config) { c.RefreshTokenFile, c.RefreshToken = "", rt }, true},
		{"refresh_token of another grant", func(c *pipedrive.Config) { c.RefreshTokenFile, c.RefreshToken = "", "refresh:other-0002" }, false},
		{"refresh_token_credential", func(c *pipedrive.Config) { c.RefreshTokenFile, c.RefreshTokenCredential = "", "rt" }, true},
	}
	for i, tt := range tests {
		e := newEnv(t, fakepipedrive.Options{ClientID: id, ClientSecret: sec, RefreshToken: rt, OAuthUser: 1})
		cfg := pipedrive.Config{URL: e.srv.URL, TokenURL: e.srv.URL + "/oauth/token", Auth: pipedrive.AuthOAuth, ClientID: id,
			ClientSecret: sec, RefreshTokenFile: filepath.Join(dir, "rt"), CompanyDomain: "acme"}
		tt.set(&cfg)
		err := e.connector(t, cfg, pipedrive.Options{Logger: zerolog.Nop()}).Push(context.Background(),
			crmtest.Delivery(fmt.Sprint("oa", i)))
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case !tt.ok && !crmerr.IsUnauthorized(err):
			t.Errorf("%s: %v, want unauthorized", tt.name, err)
		}
	}
	for key, set := range map[string]func(*pipedrive.Config){
		"client_secret_file":       func(c *pipedrive.Config) { c.ClientSecret, c.ClientSecretFile = "", filepath.Join(dir, "absent") },
		"client_secret_credential": func(c *pipedrive.Config) { c.ClientSecret, c.ClientSecretCredential = "", "absent" },
		"refresh_token_credential": func(c *pipedrive.Config) { c.RefreshTokenFile, c.RefreshTokenCredential = "", "absent" },
	} {
		cfg := pipedrive.Config{URL: "https://api.pipedrive.com", Auth: pipedrive.AuthOAuth, ClientID: id, ClientSecret: sec, RefreshTokenFile: filepath.Join(dir, "rt")}
		set(&cfg)
		if _, err := pipedrive.New("pd", cfg, pipedrive.Options{}); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s missing: %v", key, err)
		}
	}
}

// company_domain makes the record URLs; set, /users/me is not asked.
func TestKeyCompanyDomain(t *testing.T) {
	e := newEnv(t, fakepipedrive.Options{})
	w := fakehttp.Watching(e.srv, e.fake)
	cfg := e.config()
	cfg.CompanyDomain = "globex"
	in := recognizer(t, e.connector(t, cfg, pipedrive.Options{Logger: zerolog.Nop()}))
	m, ok := in.Lookup("+358401234567")
	if want := "https://globex.pipedrive.com/person/" + strconv.Itoa(e.person); !ok || m.Best.URL != want {
		t.Errorf("record URL %q, want %q", m.Best.URL, want)
	}
	for _, r := range w.Requests() {
		if strings.HasSuffix(r, "/users/me") {
			t.Errorf("%s although company_domain is set", r)
		}
	}
}

// subjects.* are the subjects per kind of call, the marker appended.
func TestKeySubjects(t *testing.T) {
	e := newEnv(t, fakepipedrive.Options{})
	cfg := e.config()
	cfg.Subjects = crmtest.SubjectTemplates()
	p := e.connector(t, cfg, pipedrive.Options{Logger: zerolog.Nop()})
	for _, tt := range crmtest.SubjectCases() {
		crmtest.Push(t, p, tt.Activity, crmsync.Assignment{})
		a, ok := e.callLog(tt.Activity.ID)
		if !ok || !strings.HasPrefix(a.Subject, tt.Subject+" ") {
			t.Errorf("%s: subject %q, want %q and the marker", tt.Activity.ID, a.Subject, tt.Subject)
		}
	}
}

// max_concurrency caps requests in flight.
func TestKeyMaxConcurrency(t *testing.T) {
	e := newEnv(t, fakepipedrive.Options{})
	w := fakehttp.Watching(e.srv, e.fake)
	cfg := e.config()
	cfg.MaxConcurrency = 2
	p := e.connector(t, cfg, pipedrive.Options{Logger: zerolog.Nop()})
	w.SetHold(20 * time.Millisecond)
	crmtest.PushAtOnce(t, p, "mc", 6)
	if most := w.Peak(); most != 2 {
		t.Errorf("%d requests in flight at most, want max_concurrency 2", most)
	}
}

// timeout bounds one request: an API that does not answer is a retryable
// timeout.
func TestKeyTimeout(t *testing.T) {
	e := newEnv(t, fakepipedrive.Options{})
	silent, release := fakehttp.Silence(e.fake, func(r *http.Request) bool { return r.URL.Path == "/api/v1/callLogs" })
	defer release()
	e.srv.Config.Handler = silent
	cfg := e.config()
	cfg.Timeout = 50 * time.Millisecond
	p := e.connector(t, cfg, pipedrive.Options{Logger: zerolog.Nop()})
	crmtest.PushTimesOut(t, p, "API")
}
