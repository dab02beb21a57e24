package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/crmsync/dynamics/fakedataverse"
	"github.com/callbridge/callbridge/crmsync/webhook"
	"github.com/callbridge/callbridge/internal/app/demo"
)

// A webhook next to a Dynamics connector, with recognition_from naming
// it: each body carries the policy's CRM user and template code, and the
// contact Dynamics' phone index matched.
func TestWebhookBorrowsRecognition(t *testing.T) {
	recs, err := demo.Recordings()
	if err != nil {
		t.Fatal(err)
	}
	ari, err := fakeari.New(fakeari.Options{Recordings: recs, AwaitList: true, Username: "cb", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer ari.Close()
	dv := httptest.NewUnstartedServer(nil)
	dv.Start()
	defer dv.Close()
	fake := fakedataverse.New(fakedataverse.Options{ClientID: "app", ClientSecret: "dv-secret", Scope: dv.URL + "/.default"})
	dv.Config.Handler = fake
	const contact = "00000000-0000-4000-8000-00000000c0c0"
	fake.AddRecord("contacts", fakedataverse.Record{"contactid": contact, "fullname": "Maija Meikäläinen", "mobilephone": "040 123 4567"})

	var mu sync.Mutex
	bodies := map[string]webhook.Body{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body webhook.Body
		if err := json.Unmarshal(b, &body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		bodies[body.ID] = body
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()

	dir := t.TempDir()
	yaml := fmt.Sprintf(`
state_dir: %s
ari: {url: %s, username: cb, password: pw}
trunks: [pstn]
default_region: FI
users:
  - {extension: "101", name: Alice, email: alice@example.com}
  - {extension: "102", name: Bob, email: bob@example.com}
http: {listen: "127.0.0.1:0"}
delivery: {backoff_min: 50ms, backoff_max: 200ms, poll_interval: 50ms}
policy:
  default_assignee: 00000000-0000-0000-0000-00000000d0d0
  defaults:
    templates: {incoming: PHONE-IN, outgoing: PHONE-OUT, missed_incoming: PHONE-MISSED, unaccepted_outgoing: PHONE-NOANSWER}
  users:
    "102": {crm_user: 00000000-0000-0000-0000-0000000b0b00}
crm:
  - type: dynamics
    dynamics:
      url: %s
      tenant_id: contoso.onmicrosoft.com
      token_url: %s/contoso.onmicrosoft.com/oauth2/v2.0/token
      client_id: app
      client_secret: dv-secret
    recognition: {region: FI, enabled: true}
  - type: webhook
    webhook:
      url: %s
      secret: whsec-daemon
      recognition_from: dynamics
`, dir, ari.URL(), dv.URL, dv.URL, hook.URL)
	d, cfg, ctx, stop := runDaemon(t, dir, yaml, zerolog.Nop())
	base := "http://" + d.Addr().String()
	waitFor(t, func() bool { return strings.Contains(get(t, base+"/api/callername?number=%2B358401234567"), "Maija") })
	if err := ari.Play(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(bodies) == 12 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, a := range readSink(t, cfg.Sink.File) {
		if a.CallID != "1795277480.20" || a.User != "102" {
			continue
		}
		b := bodies[a.ID]
		if b.CRMUser == nil || b.CRMUser.ID != "00000000-0000-0000-0000-0000000b0b00" || b.CRMUser.Email != "bob@example.com" || !b.CRMUser.Mapped {
			t.Errorf("crm_user %+v", b.CRMUser)
		}
		if b.Template != "PHONE-IN" || b.WrapUp != nil {
			t.Errorf("template %q wrap_up %v", b.Template, b.WrapUp)
		}
		if len(b.Matches) != 1 || b.Matches[0].ID != contact || b.Matches[0].Connector != "dynamics" || b.Matches[0].Entity != "contact" {
			t.Errorf("matches %+v", b.Matches)
		}
		checked++
	}
	if checked != 1 {
		t.Fatalf("checked %d bodies", checked)
	}
	// Alice has no crm_user: the default assignee, not mapped.
	for _, b := range bodies {
		if b.User == "101" && (b.CRMUser == nil || b.CRMUser.ID != "00000000-0000-0000-0000-00000000d0d0" || b.CRMUser.Mapped || b.CRMUser.Email != "alice@example.com") {
			t.Errorf("alice's crm_user %+v", b.CRMUser)
			break
		}
	}
}
