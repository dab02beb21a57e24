package zoho_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/internal/fakehttp"
	"github.com/callbridge/callbridge/crmsync/zoho"
	"github.com/callbridge/callbridge/crmsync/zoho/fakezoho"
)

// The zoho section's keys, each shown doing what docs/config.md says,
// against the fake org.

// api_version is the version in every API request's path.
func TestKeyAPIVersion(t *testing.T) {
	e := newEnv(t, fakezoho.Options{})
	w := fakehttp.Watching(e.srv, e.fake)
	cfg := e.config()
	cfg.APIVersion = "v7"
	z := e.connector(t, cfg, zoho.Options{Logger: zerolog.Nop()})
	err := z.Push(context.Background(), crmtest.Delivery("ver"))
	if err == nil || !strings.Contains(err.Error(), "INVALID_URL_PATTERN") {
		t.Errorf("v7 against an org the fake serves as v8: %v", err)
	}
	n := 0
	for _, r := range w.Requests() {
		if strings.Contains(r, "/crm/") {
			n++
			if !strings.Contains(r, "/crm/v7/") {
				t.Errorf("%s: not api_version v7", r)
			}
		}
	}
	if n == 0 {
		t.Error("no API request")
	}
}

// client_id and client_secret go to the token endpoint; the secret and
// the refresh token are read from a file or a systemd credential, and a
// missing one is refused by its key's name.
func TestKeyClientAndSecretSources(t *testing.T) {
	e := newEnv(t, fakezoho.Options{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "secret"), []byte(clientSecret+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "refresh"), []byte(refreshToken+"\n"), 0o600)
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	tests := []struct {
		name string
		set  func(*zoho.Config)
		want string // "": the push succeeds; else what the error names
	}{
		{"client_id of another client", func(c *zoho.Config) { c.ClientID = "1000.OTHERCLIENT" }, "invalid_client"},
		{"client_secret of another client", func(c *zoho.Config) { c.ClientSecret = "another-secret" }, "invalid_client"},
		{"client_secret_file", func(c *zoho.Config) { c.ClientSecret, c.ClientSecretFile = "", filepath.Join(dir, "secret") }, ""},
		{"client_secret_credential", func(c *zoho.Config) { c.ClientSecret, c.ClientSecretCredential = "", "secret" }, ""},
		{"refresh_token_file", func(c *zoho.Config) { c.RefreshToken, c.RefreshTokenFile = "", filepath.Join(dir, "refresh") }, ""},
		{"refresh_token_credential", func(c *zoho.Config) { c.RefreshToken, c.RefreshTokenCredential = "", "refresh" }, ""},
		{"the secret's file holding the refresh token", func(c *zoho.Config) { c.ClientSecret, c.ClientSecretFile = "", filepath.Join(dir, "refresh") }, "invalid_client"},
		{"the refresh token's credential holding the secret", func(c *zoho.Config) { c.RefreshToken, c.RefreshTokenCredential = "", "secret" }, "invalid_code"},
	}
	for i, tt := range tests {
		cfg := e.config()
		tt.set(&cfg)
		z := e.connector(t, cfg, zoho.Options{Logger: zerolog.Nop()})
		err := z.Push(context.Background(), crmtest.Delivery(fmt.Sprint("src", i)))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want %s", tt.name, err, tt.want)
		}
	}
	for key, set := range map[string]func(*zoho.Config){
		"client_secret_file":       func(c *zoho.Config) { c.ClientSecret, c.ClientSecretFile = "", filepath.Join(dir, "absent") },
		"client_secret_credential": func(c *zoho.Config) { c.ClientSecret, c.ClientSecretCredential = "", "absent" },
		"refresh_token_file":       func(c *zoho.Config) { c.RefreshToken, c.RefreshTokenFile = "", filepath.Join(dir, "absent") },
		"refresh_token_credential": func(c *zoho.Config) { c.RefreshToken, c.RefreshTokenCredential = "", "absent" },
	} {
		cfg := e.config()
		set(&cfg)
		if _, err := zoho.New("zoho", cfg, zoho.Options{}); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s missing: %v", key, err)
		}
	}
}

// marker_field and template_field name the Calls fields the activity id
// and the template code go to; subjects.* are the subjects per kind of
// call.
func TestKeyFieldsAndSubjects(t *testing.T) {
	e := newEnv(t, fakezoho.Options{CallFields: []string{"PBX_Call_Id", "PBX_Template"}})
	cfg := e.config()
	cfg.MarkerField, cfg.TemplateField = "PBX_Call_Id", "PBX_Template"
	cfg.Subjects = crmtest.SubjectTemplates()
	z := e.connector(t, cfg, zoho.Options{Logger: zerolog.Nop()})
	for _, tt := range crmtest.SubjectCases() {
		crmtest.Push(t, z, tt.Activity, crmsync.Assignment{Template: "VIP"})
		var got map[string]any
		for _, c := range e.fake.Calls() {
			if c["PBX_Call_Id"] == tt.Activity.ID {
				got = c
			}
		}
		if got == nil {
			t.Fatalf("%s: no call with PBX_Call_Id", tt.Activity.ID)
		}
		if got["Subject"] != tt.Subject || got["PBX_Template"] != "VIP" {
			t.Errorf("%s: Subject %v PBX_Template %v", tt.Activity.ID, got["Subject"], got["PBX_Template"])
		}
	}
}

// max_concurrency caps requests in flight; batch_size is how many calls
// one insert carries.
func TestKeyMaxConcurrencyAndBatchSize(t *testing.T) {
	e := newEnv(t, fakezoho.Options{})
	w := fakehttp.Watching(e.srv, e.fake)
	cfg := e.config()
	cfg.MaxConcurrency, cfg.BatchSize = 2, 40
	z := e.connector(t, cfg, zoho.Options{Logger: zerolog.Nop()})
	crmtest.Push(t, z, crmtest.Activity("warm"), crmsync.Assignment{})
	w.SetHold(20 * time.Millisecond)
	crmtest.PushAtOnce(t, z, "mc", 6)
	if most := w.Peak(); most != 2 {
		t.Errorf("%d requests in flight at most, want max_concurrency 2", most)
	}
	w.SetHold(0)
	before := len(w.Requests())
	crmtest.PushBacklog(t, z, "bs", 100)
	inserts := 0
	for _, r := range w.Requests()[before:] {
		if r == "POST /crm/v8/Calls" {
			inserts++
		}
	}
	if inserts != 3 {
		t.Errorf("%d inserts for 100 calls, want 3 with batch_size 40", inserts)
	}
}

// timeout bounds one request: an API that does not answer is a retryable
// timeout.
func TestKeyTimeout(t *testing.T) {
	e := newEnv(t, fakezoho.Options{})
	silent, release := fakehttp.Silence(e.fake, func(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Path == "/crm/v8/Calls" })
	defer release()
	e.srv.Config.Handler = silent
	cfg := e.config()
	cfg.Timeout = 50 * time.Millisecond
	z := e.connector(t, cfg, zoho.Options{Logger: zerolog.Nop()})
	crmtest.PushTimesOut(t, z, "API")
}
