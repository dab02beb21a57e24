package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/callbridge/callbridge/ari/ami/fakeami"
	"github.com/callbridge/callbridge/ari/cel/celtest"
	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync/dynamics/fakedataverse"
	"github.com/callbridge/callbridge/crmsync/store/redis/redistest"
	"github.com/callbridge/callbridge/crmsync/webhook"
	"github.com/callbridge/callbridge/internal/app/demo"
)

// planted is a distinct secret for every secret field of the config.
var planted = map[string]string{
	"ari.password":                          "ari-pw-Q7x2Lm9Vd4",
	"ami.secret":                            "ami-secret-Z8k3Rt6Ws1",
	"store.redis_url":                       "redis-pw-H5n8Jc2Fy7", // the password in the URL
	"sip.subscribe.password":                "sub-pw-B3v6Np9Qe2",
	"cel.password":                          "cel-pw-W2q5Dz8Hk4",
	"crm[0].webhook.secret":                 "hook-secret-K4m7Tx1Gz5",
	"crm[0].webhook.headers.X-Api-Key":      "hook-header-D2s5Wq8Lb3",
	"crm[0].webhook.url":                    "hook-query-P9c2Hv5Mr8", // a token in the URL's query
	"crm[1].dynamics.client_secret":         "dyn-secret-F6j9Uy3Ka1",
	"http.AdminToken":                       "admin-token-N1r4Ez7Xc0v3",
	"http.dialplan_tokens[0].Token":         "dialplan-token-S8g1Yb4Ow7",
	"users[0].Token":                        "agent-token-A5t8Ic2Ln6q9",
	"crm[0].webhook.secret (refused)":       "wrong-hook-secret-R3e6",
	"crm[1].dynamics.client_secret (wrong)": "wrong-dyn-secret-J7u1Vk4",
}

// leaks lists the planted secrets s shows, in any of the forms a careless
// log line could carry them: as they are, base64 (alone, and as the basic
// auth of user cb), URL- and JSON-escaped.
func leaks(s string) []string {
	var out []string
	for key, v := range planted {
		forms := []string{v, url.QueryEscape(v), base64.StdEncoding.EncodeToString([]byte(v)),
			base64.StdEncoding.EncodeToString([]byte("cb:" + v))} // an Authorization: Basic header
		if b, _ := json.Marshal(v); len(b) > 2 {
			forms = append(forms, string(b[1:len(b)-1]))
		}
		for _, f := range forms {
			if strings.Contains(s, f) {
				out = append(out, key)
				break
			}
		}
	}
	return out
}

// A secret planted in every secret field never appears in any output of
// any subcommand, run for real against fakes that accept them, then
// against fakes that refuse them, nor in the daemon's log at debug level.
func TestSecretsNeverShow(t *testing.T) {
	// The detector itself sees every form.
	v := planted["ari.password"]
	for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v)), base64.StdEncoding.EncodeToString([]byte("cb:" + v)), url.QueryEscape(v)} {
		if l := leaks("... " + form + " ..."); len(l) != 1 || l[0] != "ari.password" {
			t.Fatalf("leaks(%q) = %v", form, l)
		}
	}
	useTestEnv(t)
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// The fakes, each accepting its planted secret.
	recs, err := demo.Recordings()
	if err != nil {
		t.Fatal(err)
	}
	ariSrv, err := fakeari.New(fakeari.Options{Recordings: recs[:3], AwaitList: true, Username: "cb", Password: planted["ari.password"],
		Endpoints: []string{"PJSIP/101", "PJSIP/102"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ariSrv.Close()
	amiRec, err := os.ReadFile("../../testdata/recordings/inbound_missed_cancel/ami.txt")
	if err != nil {
		t.Fatal(err)
	}
	amiSrv, err := fakeami.Start(fakeami.Config{Recording: amiRec, Username: "cb", Secret: planted["ami.secret"], HoldUntilSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer amiSrv.Close()
	rs := redistest.Start(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: rs.Addr})
	if err := rdb.ConfigSet(context.Background(), "requirepass", planted["store.redis_url"]).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.Close()
	// The CEL database, a real PostgreSQL taking the planted password.
	pg := celtest.Postgres(t)
	celPassword := func(pw string) {
		t.Helper()
		if _, err := pg.Admin.Exec(fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", pg.User, pw)); err != nil {
			t.Fatal(err)
		}
	}
	celPassword(planted["cel.password"])
	celtest.Create(t, pg.Admin, celtest.PgsqlTable, "cel")
	var hookSecret atomic.Value
	hookSecret.Store(planted["crm[0].webhook.secret"])
	var delivered atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if webhook.Verify([]byte(hookSecret.Load().(string)), r.Header.Get(webhook.SignatureHeader), body, time.Now(), time.Minute) != nil ||
			r.Header.Get("X-Api-Key") != planted["crm[0].webhook.headers.X-Api-Key"] || r.URL.Query().Get("token") != planted["crm[0].webhook.url"] {
			// A careless receiver echoes what it got: it must not
			// reach the logs either.
			http.Error(w, "refused "+r.Header.Get("X-Api-Key")+" "+r.URL.RawQuery, http.StatusUnauthorized)
			return
		}
		delivered.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	dv := httptest.NewUnstartedServer(nil)
	dv.Start()
	defer dv.Close()
	fake := fakedataverse.New(fakedataverse.Options{ClientID: "app", ClientSecret: planted["crm[1].dynamics.client_secret"], Scope: dv.URL + "/.default"})
	dv.Config.Handler = fake
	fake.AddUser(fakedataverse.SystemUser{ID: "00000000-0000-4000-8000-00000000a11c", Email: "alice@example.com", FullName: "Alice"})
	fake.AddRecord("contacts", fakedataverse.Record{"contactid": "00000000-0000-4000-8000-00000000c0c0", "fullname": "Maija", "mobilephone": "040 123 4567"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	write("ami.secret", planted["ami.secret"])
	write("cel.password", planted["cel.password"])
	write("redis.url", "redis://:"+planted["store.redis_url"]+"@"+rs.Addr+"/0")
	write("dynamics.secret", planted["crm[1].dynamics.client_secret"])
	write("admin.token", planted["http.AdminToken"])
	write("dialplan.token", planted["http.dialplan_tokens[0].Token"])
	write("alice.token", planted["users[0].Token"])
	cfgText := func(ariURL string, amiPort int, dvURL string) string {
		return fmt.Sprintf(`log_level: debug
state_dir: %[1]s/state
ari: {url: %[2]s, username: cb, password: %[3]s}
ami: {host: 127.0.0.1, port: %[4]d, username: cb, secret_file: ami.secret}
sip:
  subscribe: {pbx: "127.0.0.1:9", listen: "127.0.0.1:0", extensions: ["101"], username: cb, password: %[5]s}
users:
  - {extension: "101", email: alice@example.com, token_file: alice.token}
trunks: [pstn]
default_region: FI
http:
  listen: "%[6]s"
  admin_token_file: admin.token
  dialplan_tokens: [{name: pbx, token_file: dialplan.token}]
store: {type: redis, redis_url_file: redis.url}
cel: {type: postgres, dsn: "%[12]s", password_file: cel.password, time_zone: UTC}
delivery: {backoff_min: 50ms, backoff_max: 200ms, poll_interval: 50ms}
crm:
  - name: hook
    type: webhook
    webhook:
      url: %[7]s/calls?token=%[8]s
      secret: %[9]s
      headers: {X-Api-Key: %[10]s}
  - name: dyn
    type: dynamics
    dynamics: {url: %[11]s, tenant_id: t, token_url: %[11]s/t/token, client_id: app, client_secret_file: %[1]s/dynamics.secret}
    recognition: {region: FI, enabled: true}
`, dir, ariURL, planted["ari.password"], amiPort, planted["sip.subscribe.password"], addr,
			hook.URL, planted["crm[0].webhook.url"], planted["crm[0].webhook.secret"], planted["crm[0].webhook.headers.X-Api-Key"], dvURL, pg.DSN)
	}
	cfgPath := filepath.Join(dir, "callbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText(ariSrv.URL(), amiSrv.Port(), dv.URL)), 0o600); err != nil {
		t.Fatal(err)
	}

	// Every secret field of the config is planted: a new one fails here
	// until it is added above.
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Secrets()) < 10 { // the connectors' secret files are read by the connectors

		t.Errorf("%d secrets in the config", len(cfg.Secrets()))
	}
	for _, s := range cfg.Secrets() {
		if planted[s.Key] == "" || !strings.Contains(s.Value.Value(), planted[s.Key]) {
			t.Errorf("secret field %s holds no planted secret", s.Key)
		}
	}

	var outputs []string
	check := func(what string, args ...string) (int, string, string) {
		t.Helper()
		code, out, errOut := callTimed(t, args...)
		outputs = append(outputs, what+": "+out+errOut)
		if l := leaks(out + errOut); len(l) > 0 {
			t.Errorf("%s: shows %v:\n%s%s", what, l, out, errOut)
		}
		return code, out, errOut
	}
	check("version", "version")
	check("help", "help")
	for _, c := range commands() {
		check("help "+c.name, append([]string{"help"}, strings.Fields(c.name)...)...)
	}
	check("completion", "completion", "bash")
	if code, out, errOut := check("config check", "config", "check", "--config", cfgPath); code != 0 {
		t.Fatalf("config check: %d %s %s", code, out, errOut)
	}
	check("replay", "replay", "--config", cfgPath, "--ari", "../../testdata/recordings/inbound_answered/ari.jsonl", "--all")
	check("users import", "users", "import", "--config", cfgPath)
	check("users import --merge", "users", "import", "--config", cfgPath, "--merge")
	check("queue stats, stopped", "queue", "stats", "--config", cfgPath)
	check("integrations status, stopped", "integrations", "status", "--config", cfgPath)

	// daemon runs `callbridge run` until stop, logging into logs.
	daemon := func(logs *lockedBuffer) (stop func() int, waitFor func(string, func() bool)) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		done := make(chan int, 1)
		go func() { done <- run(ctx, []string{"run", "--config", cfgPath}, logs, logs) }()
		deadline := time.Now().Add(30 * time.Second)
		waitFor = func(what string, cond func() bool) {
			t.Helper()
			for !cond() {
				if time.Now().After(deadline) {
					t.Fatalf("timed out waiting for %s; log:\n%s", what, logs.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		return func() int { cancel(); return <-done }, waitFor
	}

	// The daemon, every secret accepted.
	var logs lockedBuffer
	stop, waitFor := daemon(&logs)
	waitFor("the API", func() bool { c, _, _ := callTimed(t, "queue", "stats", "--config", cfgPath); return c == 0 })
	if err := ariSrv.Play(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor("deliveries", func() bool { return delivered.Load() > 0 && fake.Phonecalls() > 0 })
	if strings.Contains(logs.String(), "CEL not readable") {
		t.Errorf("the CEL database refused its password:\n%s", logs.String())
	}
	check("queue stats", "queue", "stats", "--config", cfgPath)
	check("queue dead", "queue", "dead", "--config", cfgPath)
	check("queue retry", "queue", "retry", "--all", "--config", cfgPath)
	check("queue purge", "queue", "purge", "--config", cfgPath)
	check("users sync", "users", "sync", "--config", cfgPath)
	check("integrations status", "integrations", "status", "--config", cfgPath)
	check("integrations full-sync", "integrations", "full-sync", "dyn", "--config", cfgPath)
	outputs = append(outputs, fmt.Sprint("run: exit ", stop()))

	// The daemon again, every secret refused: Asterisk over ARI and AMI,
	// the webhook's receiver and Dataverse all want other ones.
	ariNo, err := fakeari.New(fakeari.Options{Username: "cb", Password: "another-ari-pw-Cw3"})
	if err != nil {
		t.Fatal(err)
	}
	defer ariNo.Close()
	amiNo, err := fakeami.Start(fakeami.Config{Recording: amiRec, Username: "cb", Secret: "another-ami-secret-Yq"})
	if err != nil {
		t.Fatal(err)
	}
	defer amiNo.Close()
	hookSecret.Store(planted["crm[0].webhook.secret (refused)"])
	celPassword("another-cel-pw-Tn6")
	dvNo := httptest.NewUnstartedServer(nil)
	dvNo.Start()
	defer dvNo.Close()
	dvNo.Config.Handler = fakedataverse.New(fakedataverse.Options{ClientID: "app", ClientSecret: planted["crm[1].dynamics.client_secret (wrong)"], Scope: dvNo.URL + "/.default"})
	// First Asterisk still takes them, so calls flow to CRMs that
	// refuse them.
	ariMore, err := fakeari.New(fakeari.Options{Recordings: recs[3:5], AwaitList: true, Username: "cb", Password: planted["ari.password"]})
	if err != nil {
		t.Fatal(err)
	}
	defer ariMore.Close()
	if err := os.WriteFile(cfgPath, []byte(cfgText(ariMore.URL(), amiNo.Port(), dvNo.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	var refused lockedBuffer
	stop, waitFor = daemon(&refused)
	waitFor("the API", func() bool { c, _, _ := callTimed(t, "queue", "stats", "--config", cfgPath); return c == 0 })
	if err := ariMore.Play(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor("the refusals", func() bool {
		l := refused.String()
		return strings.Contains(l, "webhook hook: POST") && strings.Contains(l, `"connector":"dyn"`) && strings.Contains(l, `"source":"ami"`) &&
			strings.Contains(l, "CEL not readable")
	})
	check("queue dead, refusing CRMs", "queue", "dead", "--config", cfgPath)
	check("queue stats, refusing CRMs", "queue", "stats", "--config", cfgPath)
	check("users sync, refusing CRM", "users", "sync", "--config", cfgPath)
	outputs = append(outputs, fmt.Sprint("run, CRMs refusing: exit ", stop()))
	// Then Asterisk refuses too: ARI's refusal ends the daemon.
	if err := os.WriteFile(cfgPath, []byte(cfgText(ariNo.URL(), amiNo.Port(), dvNo.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	var sourcesRefused lockedBuffer
	stop, _ = daemon(&sourcesRefused)
	outputs = append(outputs, fmt.Sprint("run, Asterisk refusing: exit ", stop()))
	if l := leaks(logs.String() + refused.String() + sourcesRefused.String()); len(l) > 0 {
		t.Errorf("the daemon's log shows %v", l)
	}
	if testing.Verbose() {
		t.Log("refusing CRMs' log:\n" + refused.String())
	}

	// run refusing at start: Redis wants another password.
	write("redis.url", "redis://:"+planted["store.redis_url"]+"x@"+rs.Addr+"/0")
	if err := os.WriteFile(cfgPath, []byte(cfgText(ariSrv.URL(), amiSrv.Port(), dv.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	var startLog lockedBuffer
	rc := run(context.Background(), []string{"run", "--config", cfgPath}, &startLog, &startLog)
	if rc == 0 || len(leaks(startLog.String())) > 0 {
		t.Errorf("run against a Redis refusing the password: exit %d, shows %v:\n%s", rc, leaks(startLog.String()), startLog.String())
	}

	// config check refusing values that hold secrets: none is quoted.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, fmt.Appendf(nil, `state_dir: %s/state
ari: {url: "http://cb:%s@127.0.0.1:8088/ari", username: cb, password: %s}
ami: {host: 127.0.0.1, username: cb, secret: "%s\r\nAction: Originate"}
store: {type: redis, redis_url: "redis://:%s@127.0.0.1:99999/0"}
cel: {type: postgres, dsn: "host=127.0.0.1 user=cb password=%s"}
crm:
  - type: webhook
    webhook: {url: "https://crm.example:99999/h?token=%s", secret: %s, headers: {X-Api-Key: "%s\r\nX: y"}}
`, dir, planted["ari.password"], planted["ari.password"], planted["ami.secret"], planted["store.redis_url"], planted["cel.password"],
		planted["crm[0].webhook.url"], planted["crm[0].webhook.secret"], planted["crm[0].webhook.headers.X-Api-Key"]), 0o600)
	if code, _, errOut := check("config check, bad values", "config", "check", "--config", bad); code != 1 || strings.Count(errOut, "\n") < 6 {
		t.Errorf("config check of values holding secrets: %d %s", code, errOut)
	}
	check("run, bad values", "run", "--config", bad)
	check("replay, bad values", "replay", "--config", bad, "--ari", "../../testdata/recordings/inbound_answered/ari.jsonl")
	check("queue, bad values", "queue", "stats", "--config", bad)
	check("integrations, bad values", "integrations", "status", "--config", bad)
	check("users sync, bad values", "users", "sync", "--config", bad)
	if testing.Verbose() {
		t.Log(strings.Join(outputs, "\n"))
	}
}
