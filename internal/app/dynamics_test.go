package app_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/crmsync/dynamics"
	"github.com/callbridge/callbridge/crmsync/dynamics/fakedataverse"
	"github.com/callbridge/callbridge/internal/app/demo"
)

// The daemon with a Dynamics 365 connector: the recorded calls become
// phonecalls in a strict fake Dataverse, owned by the users mapped by
// e-mail, regarding the contact whose number called; the dialplan lookup
// answers from the synced phone index.
func TestRunWithDynamics(t *testing.T) {
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
	const alice, bob = "00000000-0000-4000-8000-00000000a11c", "00000000-0000-4000-8000-0000000000b0"
	fake.AddUser(fakedataverse.SystemUser{ID: alice, Email: "alice@example.com", FullName: "Alice"})
	fake.AddUser(fakedataverse.SystemUser{ID: bob, Email: "bob@example.com", FullName: "Bob"})
	const contact = "00000000-0000-4000-8000-00000000c0c0"
	fake.AddRecord("contacts", fakedataverse.Record{"contactid": contact, "fullname": "Maija Meikäläinen", "mobilephone": "040 123 4567"})

	dir := t.TempDir()
	yaml := fmt.Sprintf(`
state_dir: %s
ari: {url: %s, username: cb, password: pw}
trunks: [pstn]
default_region: FI
users:
  - {extension: "101", name: Alice, email: alice@example.com}
  - {extension: "102", name: Bob, email: bob@example.com}
http: {listen: "127.0.0.1:0", admin_token_file: admin.token}
delivery: {backoff_min: 50ms, backoff_max: 200ms, poll_interval: 50ms}
crm:
  - type: dynamics
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
	writeToken(t, dir, "admin.token", adminToken)
	d, cfg, ctx, stop := runDaemon(t, dir, yaml, zerolog.Nop())

	// Let the first index sync and user sync happen before the calls.
	base := "http://" + d.Addr().String()
	waitFor(t, func() bool { return strings.Contains(get(t, base+"/api/callername?number=%2B358401234567"), "Maija") })
	if err := ari.Play(ctx); err != nil {
		t.Fatal(err)
	}
	// 12 activities pass the default policy.
	waitFor(t, func() bool { return fake.Phonecalls() == 12 })
	// The running daemon's queue, as an admin sees it over the API.
	waitFor(t, func() bool {
		var st []struct {
			Connector string
			Delivered int
		}
		return json.Unmarshal([]byte(call(t, "GET", base+"/api/queue", adminToken)), &st) == nil && len(st) == 1 &&
			st[0].Connector == "dynamics" && st[0].Delivered == 12
	})

	var res struct {
		Found bool
		Best  *struct{ ID, URL string }
	}
	// With the record's page in the CRM.
	if err := json.Unmarshal([]byte(get(t, base+"/api/lookup?number=0401234567")), &res); err != nil || !res.Found || res.Best.ID != contact ||
		res.Best.URL != dv.URL+"/main.aspx?pagetype=entityrecord&etn=contact&id="+contact {
		t.Errorf("lookup: %+v %v", res.Best, err)
	}
	// A users sync is an operation: started, then followed to its end.
	var op struct {
		StatusURL string `json:"status_url"`
	}
	if err := json.Unmarshal([]byte(call(t, "POST", base+"/api/users/sync", adminToken)), &op); err != nil || op.StatusURL == "" {
		t.Fatalf("users sync: %+v %v", op, err)
	}
	var done struct {
		State  string
		Result []struct {
			Connector string
			Report    struct {
				Mapped map[string]string
			}
		}
	}
	waitFor(t, func() bool {
		return json.Unmarshal([]byte(call(t, "GET", base+op.StatusURL, adminToken)), &done) == nil && done.State == "done"
	})
	us := done.Result
	if len(us) != 1 || us[0].Report.Mapped["101"] == "" || us[0].Report.Mapped["102"] == "" {
		t.Errorf("users sync: %+v", us)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := fake.Phonecalls(); got != 12 {
		t.Fatalf("%d phonecalls, want 12", got)
	}
	// ring_group: Bob answered the caller, whose number is a contact's.
	rg := readSink(t, cfg.Sink.File)
	checked := 0
	for _, a := range rg {
		if a.CallID != "1795277480.20" || a.User != "102" {
			continue
		}
		pc, ok := fake.Phonecall(dynamics.RecordID(a.ID))
		if !ok {
			t.Fatalf("no phonecall for %s", a.ID)
		}
		if pc["_ownerid_value"] != bob || pc["_regardingobjectid_value"] != contact || pc["phonenumber"] != "+358401234567" {
			t.Errorf("phonecall %+v: want owner Bob, regarding the contact", pc)
		}
		checked++
	}
	if checked != 1 {
		t.Fatalf("checked %d phonecalls", checked)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
