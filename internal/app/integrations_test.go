package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/crmsync/dynamics/fakedataverse"
)

// A deleted recognition integration stays deleted across a real restart of
// the daemon (same state_dir, same config, recognition still enabled
// there): it answers no lookup and reads nothing from the CRM, until
// `integrations create` makes it anew, which syncs at once.
func TestDeletedIntegrationStaysDeletedAcrossRestart(t *testing.T) {
	ari, err := fakeari.New(fakeari.Options{Username: "cb", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer ari.Close()
	dv := httptest.NewUnstartedServer(nil)
	dv.Start()
	defer dv.Close()
	fake := fakedataverse.New(fakedataverse.Options{ClientID: "app", ClientSecret: "dv-secret", Scope: dv.URL + "/.default"})
	var reads atomic.Int64 // record listings: what a sync does
	records := regexp.MustCompile(`/api/data/v9\.2/(contacts|leads|accounts)\b`)
	dv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if records.MatchString(r.URL.Path) {
			reads.Add(1)
		}
		fake.ServeHTTP(w, r)
	})
	fake.AddRecord("contacts", fakedataverse.Record{"contactid": "00000000-0000-4000-8000-00000000c0c0", "fullname": "Maija Meikäläinen", "mobilephone": "040 123 4567"})

	dir := t.TempDir()
	yaml := fmt.Sprintf(`
state_dir: %s
ari: {url: %s, username: cb, password: pw}
default_region: FI
http: {listen: "127.0.0.1:0", admin_token_file: admin.token}
crm:
  - type: dynamics
    name: dyn
    dynamics:
      url: %s
      tenant_id: contoso.onmicrosoft.com
      token_url: %s/contoso.onmicrosoft.com/oauth2/v2.0/token
      client_id: app
      client_secret: dv-secret
    recognition:
      region: FI
      enabled: true
`, dir, ari.URL(), dv.URL, dv.URL)
	const who = "/api/callername?number=%2B358401234567"
	writeToken(t, dir, "admin.token", adminToken)

	d, _, _, stop := runDaemon(t, dir, yaml, zerolog.Nop())
	base := "http://" + d.Addr().String()
	waitFor(t, func() bool { return strings.Contains(get(t, base+who), "Maija") })
	if code, body := post(t, base+"/api/integrations/dyn/delete"); code != http.StatusOK {
		t.Fatalf("delete: %d %s", code, body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	before := reads.Load()
	d, _, _, stop = runDaemon(t, dir, yaml, zerolog.Nop())
	base = "http://" + d.Addr().String()
	var st []struct {
		Name    string
		Enabled bool
		Deleted bool
		Records int
	}
	if err := json.Unmarshal([]byte(call(t, "GET", base+"/api/integrations", adminToken)), &st); err != nil || len(st) != 1 ||
		!st[0].Deleted || st[0].Enabled || st[0].Records != 0 {
		t.Fatalf("status after the restart: %+v %v", st, err)
	}
	if strings.Contains(get(t, base+who), "Maija") {
		t.Error("a deleted integration answered after the restart")
	}
	if code, _ := post(t, base+"/api/integrations/dyn/sync"); code != http.StatusGone {
		t.Errorf("sync of a deleted integration: %d, want 410", code)
	}
	// The daemon's loop has had its chance to sync: nothing was read.
	time.Sleep(200 * time.Millisecond)
	if n := reads.Load(); n != before {
		t.Errorf("%d record listings after the restart of a deleted integration", n-before)
	}

	if code, body := post(t, base+"/api/integrations/dyn/create"); code != http.StatusOK {
		t.Fatalf("create: %d %s", code, body)
	}
	waitFor(t, func() bool { return strings.Contains(get(t, base+who), "Maija") })
	if code, _ := post(t, base+"/api/integrations/dyn/create"); code != http.StatusConflict {
		t.Errorf("create of a live integration: %d, want 409", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// post sends an admin's POST and gives the status and body.
func post(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
