package hubspot_test

import (
	"context"
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
	"github.com/callbridge/callbridge/crmsync/hubspot"
	"github.com/callbridge/callbridge/crmsync/hubspot/fakehubspot"
	"github.com/callbridge/callbridge/crmsync/internal/fakehttp"
)

// The hubspot section's keys, each shown doing what docs/config.md says,
// against the fake account.

// token is what every request carries; token_credential is read from the
// systemd credentials directory, and a missing one is refused by name.
func TestKeyTokenAndCredential(t *testing.T) {
	e := newEnv(t, fakehubspot.Options{})
	cfg := e.config()
	cfg.Token = "pat-eu1-00000000-0000-4000-8000-000000000000"
	h := e.connector(t, cfg, hubspot.Options{Logger: zerolog.Nop()})
	if err := h.Push(context.Background(), crmtest.Delivery("tok")); !crmerr.IsUnauthorized(err) {
		t.Errorf("another token: %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hubspot-token"), []byte(token+"\n"), 0o600)
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	cfg.Token, cfg.TokenCredential = "", "hubspot-token"
	crmtest.Push(t, e.connector(t, cfg, hubspot.Options{Logger: zerolog.Nop()}), crmtest.Activity("cred"), crmsync.Assignment{})
	cfg.TokenCredential = "hubspot-absent"
	if _, err := hubspot.New("hs", cfg, hubspot.Options{}); err == nil || !strings.Contains(err.Error(), "token_credential") {
		t.Errorf("a missing credential: %v", err)
	}
}

// app_url and portal_id make the record URLs; set, the account's details
// are not asked for.
func TestKeyAppURLAndPortalID(t *testing.T) {
	e := newEnv(t, fakehubspot.Options{IndexLag: time.Second})
	w := fakehttp.Watching(e.srv, e.fake)
	cfg := e.config()
	cfg.AppURL, cfg.PortalID = "https://app.hubspot.example", "555"
	h := e.connector(t, cfg, hubspot.Options{Logger: zerolog.Nop()})
	in := recognizer(t, h)
	m, ok := in.Lookup("+358401234567")
	if want := "https://app.hubspot.example/contacts/555/record/0-1/" + e.contact; !ok || m.Best.URL != want {
		t.Errorf("record URL %q, want %q", m.Best.URL, want)
	}
	for _, r := range w.Requests() {
		if strings.Contains(r, "/account-info/") {
			t.Errorf("%s although app_url and portal_id are set", r)
		}
	}
}

// marker_property and template_property name the custom call properties
// the activity id and the template code go to; subjects.* are the call
// titles per kind of call.
func TestKeyPropertiesAndSubjects(t *testing.T) {
	e := newEnv(t, fakehubspot.Options{CallProperties: []string{"pbx_call_id", "pbx_template"}})
	cfg := e.config()
	cfg.MarkerProperty, cfg.TemplateProperty = "pbx_call_id", "pbx_template"
	cfg.Subjects = crmtest.SubjectTemplates()
	h := e.connector(t, cfg, hubspot.Options{Logger: zerolog.Nop()})
	for _, tt := range crmtest.SubjectCases() {
		crmtest.Push(t, h, tt.Activity, crmsync.Assignment{Template: "VIP"})
		var got *fakehubspot.Call
		for _, c := range e.fake.Calls() {
			if c.Properties["pbx_call_id"] == tt.Activity.ID {
				got = &c
			}
		}
		if got == nil {
			t.Fatalf("%s: no call with pbx_call_id", tt.Activity.ID)
		}
		if got.Properties["hs_call_title"] != tt.Subject || got.Properties["pbx_template"] != "VIP" {
			t.Errorf("%s: title %q template %q", tt.Activity.ID, got.Properties["hs_call_title"], got.Properties["pbx_template"])
		}
	}
}

// max_concurrency caps requests in flight; batch_size is how many calls
// one batch create carries.
func TestKeyMaxConcurrencyAndBatchSize(t *testing.T) {
	e := newEnv(t, fakehubspot.Options{IndexLag: time.Second})
	w := fakehttp.Watching(e.srv, e.fake)
	cfg := e.config()
	cfg.MaxConcurrency, cfg.BatchSize = 2, 40
	h := e.connector(t, cfg, hubspot.Options{Logger: zerolog.Nop()})
	w.SetHold(20 * time.Millisecond)
	crmtest.PushAtOnce(t, h, "mc", 6)
	if most := w.Peak(); most != 2 {
		t.Errorf("%d requests in flight at most, want max_concurrency 2", most)
	}
	w.SetHold(0)
	before := len(w.Requests())
	crmtest.PushBacklog(t, h, "bs", 100)
	creates := 0
	for _, r := range w.Requests()[before:] {
		if strings.HasSuffix(r, "/batch/create") {
			creates++
		}
	}
	if creates != 3 {
		t.Errorf("%d batch creates for 100 calls, want 3 with batch_size 40", creates)
	}
}

// timeout bounds one request: an API that does not answer is a retryable
// timeout.
func TestKeyTimeout(t *testing.T) {
	e := newEnv(t, fakehubspot.Options{})
	silent, release := fakehttp.Silence(e.fake, func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/crm/v3/objects/calls") })
	defer release()
	e.srv.Config.Handler = silent
	cfg := e.config()
	cfg.Timeout = 50 * time.Millisecond
	h := e.connector(t, cfg, hubspot.Options{Logger: zerolog.Nop()})
	crmtest.PushTimesOut(t, h, "API")
}
