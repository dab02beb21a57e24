package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync/dynamics"
	"github.com/callbridge/callbridge/crmsync/dynamics/fakedataverse"
	"github.com/callbridge/callbridge/internal/app"
	"github.com/callbridge/callbridge/internal/app/demo"
)

const (
	alice    = "00000000-0000-4000-8000-00000000a11c"
	bob      = "00000000-0000-4000-8000-0000000000b0"
	maija    = "00000000-0000-4000-8000-00000000c0c0" // a contact Bob owns
	vip      = "00000000-0000-4000-8000-0000000000a1" // a preferred-customer account, owner not a user
	support  = "00000000-0000-4000-8000-00000000005a" // the CRM queue Support, Bob's
	ringCall = "1795277480.20"                        // ring_group: +358401234567 rings 101 and 102, Bob answers
)

// dialplanRig is a daemon with a Dynamics connector in front of a fake
// Dataverse, routing rules, wrap-ups held open for their disposition and a
// callback profile, following a fake Asterisk that has not played yet.
type dialplanRig struct {
	base string
	dv   *fakedataverse.Server
	ari  *fakeari.Server
	play func()
	stop func() error
	logs *syncWriter
	// d is the daemon, yaml its config file's text, path that file.
	d    *app.App
	yaml string
	path string
}

func newDialplanRig(t *testing.T, timeout time.Duration) *dialplanRig {
	t.Helper()
	recs, err := demo.Recordings()
	if err != nil {
		t.Fatal(err)
	}
	ari, err := fakeari.New(fakeari.Options{Recordings: recs, AwaitList: true, Username: "cb", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ari.Close)
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	dv := fakedataverse.New(fakedataverse.Options{ClientID: "app", ClientSecret: "dv-secret", Scope: srv.URL + "/.default",
		PhonecallAttributes: []string{"new_wrapcode"}})
	srv.Config.Handler = dv
	dv.AddUser(fakedataverse.SystemUser{ID: alice, Email: "alice@example.com", FullName: "Alice"})
	dv.AddUser(fakedataverse.SystemUser{ID: bob, Email: "bob@example.com", FullName: "Bob"})
	dv.AddRecord("contacts", fakedataverse.Record{"contactid": maija, "fullname": "Maija Meikäläinen", "mobilephone": "040 123 4567", "_ownerid_value": bob})
	dv.AddRecord("accounts", fakedataverse.Record{"accountid": vip, "name": "VIP Oy", "telephone1": "09 876 5432",
		"accountcategorycode": 1, "_ownerid_value": "00000000-0000-4000-8000-0000000000ff"})
	dv.AddQueue(fakedataverse.Queue{ID: support, Name: "Support", OwnerID: bob})

	dir := t.TempDir()
	yaml := fmt.Sprintf(`
state_dir: %s
ari: {url: %s, username: cb, password: pw}
trunks: [pstn]
default_region: FI
users:
  - {extension: "101", name: Alice, email: alice@example.com}
  - {extension: "102", name: Bob, email: bob@example.com, direct_number: "050 100 0102", endpoints: ["102", "102-desk"]}
http: {listen: "127.0.0.1:0"}
delivery: {backoff_min: 50ms, backoff_max: 200ms, poll_interval: 50ms}
routing:
  rules:
    - {name: owner, match: owner, when_free: true}
    - {name: vip, match: field, field: accountcategorycode, values: ["1"], target: "+358501234567"}
    - {name: nordic, match: prefix, prefixes: ["+46"], target: "101"}
wrapup:
  codes: [SALE, NOSALE, CALLBACK]
  complete_on_wrap: true
  timeout: %s
callbacks:
  profiles:
    - {queue: support, crm_queue: Support, ownership: queue_owner, duplicates: ignore}
crm:
  - type: dynamics
    dynamics:
      url: %s
      token_url: %s/t/oauth2/v2.0/token
      client_id: app
      client_secret: dv-secret
      wrapup: {field: new_wrapcode}
    recognition:
      region: FI
      enabled: true
      entities:
        - {name: contact, entity_set: contacts, key: contactid, name_field: fullname, phone_fields: [mobilephone], owner_field: _ownerid_value, type: person}
        - {name: account, entity_set: accounts, key: accountid, name_field: name, phone_fields: [telephone1], fields: [accountcategorycode], owner_field: _ownerid_value, type: entity}
`, dir, ari.URL(), timeout, srv.URL, srv.URL)
	logs := &syncWriter{w: &strings.Builder{}}
	d, _, ctx, stop := runDaemon(t, dir, yaml, zerolog.New(logs).Level(zerolog.InfoLevel))
	r := &dialplanRig{base: "http://" + d.Addr().String(), dv: dv, ari: ari, stop: stop, logs: logs,
		d: d, yaml: yaml, path: filepath.Join(dir, "callbridge.yaml")}
	r.play = func() {
		if err := ari.Play(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The index has synced and Bob is mapped: Maija routes to him.
	waitFor(t, func() bool { return get(t, r.base+"/api/route?anum=%2B358401234567&bnum=1") == "102" })
	return r
}

// snippets are the dialplan blocks of docs/asterisk.md, by name.
func snippets(t *testing.T) map[string]string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/asterisk.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	re := regexp.MustCompile("(?s)<!-- snippet: ([a-z]+) -->\n```ini\n(.*?)```")
	for _, m := range re.FindAllStringSubmatch(string(doc), -1) {
		out[m[1]] = m[2]
	}
	for _, name := range []string{"lookup", "route", "disposition", "callback", "privacy"} {
		if out[name] == "" {
			t.Fatalf("docs/asterisk.md has no snippet %q", name)
		}
	}
	return out
}

// curls are the CURL(url[,data]) calls of a snippet, as written.
func curls(t *testing.T, snippet string) [][2]string {
	t.Helper()
	var out [][2]string
	for rest := snippet; ; {
		i := strings.Index(rest, "${CURL(")
		if i < 0 {
			return out
		}
		rest = rest[i+len("${CURL("):]
		depth, end, comma := 0, -1, -1
		for j := 0; j < len(rest) && end < 0; j++ {
			switch rest[j] {
			case '(':
				depth++
			case ')':
				if depth == 0 {
					end = j
				}
				depth--
			case ',':
				if depth == 0 && comma < 0 {
					comma = j
				}
			}
		}
		if end < 0 {
			t.Fatalf("unbalanced CURL( in %q", snippet)
		}
		c := [2]string{rest[:end], ""}
		if comma >= 0 {
			c = [2]string{rest[:comma], rest[comma+1 : end]}
		}
		out = append(out, c)
		rest = rest[end:]
	}
}

// channel is what the dialplan's expressions are on one channel.
type channel map[string]string

// run expands a CURL() as Asterisk would on ch and makes its request to
// the daemon at base: a GET, or with data a form POST.
func (ch channel) run(t *testing.T, base string, c [2]string) (int, string) {
	t.Helper()
	expand := func(s string) string {
		for expr, v := range ch {
			s = strings.ReplaceAll(s, expr, v)
		}
		if strings.Contains(s, "${") {
			t.Fatalf("the test does not know an expression in %q", s)
		}
		return strings.Replace(s, "http://127.0.0.1:9089", base, 1)
	}
	u, data := expand(c[0]), expand(c[1])
	var resp *http.Response
	var err error
	if c[1] == "" {
		resp, err = http.Get(u)
	} else {
		resp, err = http.Post(u, "application/x-www-form-urlencoded", strings.NewReader(data))
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func caller(num, exten string) channel {
	return channel{"${URIENCODE(${CALLERID(num)})}": url.QueryEscape(num), "${URIENCODE(${EXTEN})}": url.QueryEscape(exten),
		"${EPOCH}": "1795277600"}
}

// The blocks of docs/asterisk.md, copied out as they are, work against a
// running daemon: the caller's name, their route, an agent's wrap-up and a
// callback request; and the privacy mark is the variable the engine reads.
func TestDialplanSnippets(t *testing.T) {
	sn := snippets(t)
	r := newDialplanRig(t, time.Minute)

	lookup := curls(t, sn["lookup"])
	if len(lookup) != 1 {
		t.Fatalf("lookup snippet has %d CURL()s", len(lookup))
	}
	if code, body := caller("+358401234567", "+35850111222").run(t, r.base, lookup[0]); code != 200 || body != "Maija Meikäläinen" {
		t.Errorf("lookup: %d %q", code, body)
	}

	route := curls(t, sn["route"])
	for _, tt := range []struct{ anum, exten, want string }{
		{"+358401234567", "+35850111222", "102"},          // Maija's owner, Bob
		{"+358 40 123 4567", "+35850111222", "102"},       // the same caller, spaced
		{"+35898765432", "+35850111222", "+358501234567"}, // the preferred customer's line
		{"+46701234567", "+35850111222", "101"},           // a Swedish caller
		{"+358401234567", "102", ""},                      // Bob's own number dialled: no loop
		{"+358407777777", "+35850111222", ""},             // unknown caller
		{"anonymous", "+35850111222", ""},
	} {
		code, body := caller(tt.anum, tt.exten).run(t, r.base, route[0])
		if body != tt.want || (tt.want == "" && code != 204) || (tt.want != "" && code != 200) {
			t.Errorf("route %s -> %s: %d %q, want %q", tt.anum, tt.exten, code, body, tt.want)
		}
	}

	// Bob wraps the ring group call up from his desk phone before the
	// call has even reached callbridge: it waits for its activity.
	disp := curls(t, sn["disposition"])
	agent := channel{"${CHANNEL(linkedid)}": ringCall, "${CHANNEL(endpoint)}": "102-desk", "${WRAPCODE}": "SALE"}
	if code, body := agent.run(t, r.base, disp[0]); code != 202 {
		t.Fatalf("disposition: %d %s", code, body)
	}
	agent["${WRAPCODE}"] = "MAYBE"
	if code, _ := agent.run(t, r.base, disp[0]); code != 422 {
		t.Errorf("a code not in wrapup.codes: %d", code)
	}

	cb := curls(t, sn["callback"])
	for range 2 { // a retried CURL()
		if code, body := caller("+358401234567", "").run(t, r.base, cb[0]); code != 202 {
			t.Fatalf("callback: %d %s", code, body)
		}
	}
	waitFor(t, func() bool { return len(r.dv.QueueItems(support)) == 1 })
	items := r.dv.QueueItems(support)
	pc, _ := r.dv.Phonecall(items[0]["_objectid_value"].(string))
	if len(items) != 1 || pc["_ownerid_value"] != bob || pc["_regardingobjectid_value"] != maija || pc["phonenumber"] != "+358401234567" {
		t.Errorf("callback request: %d items, %v", len(items), pc)
	}

	priv := regexp.MustCompile(`Set\(`+bridge.PrivacyVar+`=([a-z]+)\)`).FindAllStringSubmatch(sn["privacy"], -1)
	if len(priv) == 0 {
		t.Errorf("the privacy snippet does not Set(%s=…)", bridge.PrivacyVar)
	}
	for _, m := range priv {
		if m[1] != bridge.PrivacyPrivate && m[1] != bridge.PrivacyUnclassified {
			t.Errorf("the privacy snippet sets %q", m[1])
		}
	}

	// The recorded calls play: Bob's ring-group activity is written open
	// and completed with his code.
	r.play()
	bobsCall := dynamics.RecordID(bridge.ActivityID("", ringCall, "102"))
	waitFor(t, func() bool {
		pc, ok := r.dv.Phonecall(bobsCall)
		return ok && pc["statecode"] == json.Number("1") && pc["new_wrapcode"] == "SALE"
	})
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	r.logs.mu.Lock()
	defer r.logs.mu.Unlock()
	if s := r.logs.w.(*strings.Builder).String(); strings.Contains(s, "358401234567") {
		t.Errorf("a number reached the info log in full:\n%s", s)
	}
}

// wrapup.complete_on_wrap: connected calls are written open at hang-up
// and completed when wrapup.timeout passes without a disposition; missed
// calls are written completed as ever.
func TestWrapupTimeoutCompletes(t *testing.T) {
	const timeout = 6 * time.Second
	r := newDialplanRig(t, timeout)
	r.play()
	waitFor(t, func() bool { return r.dv.Phonecalls() == 12 })
	var open, talked, missed int
	for _, pc := range r.dv.PhonecallList() {
		minutes, _ := pc["actualdurationminutes"].(json.Number).Int64()
		switch {
		case minutes > 0:
			talked++
			if pc["statecode"] == json.Number("0") {
				open++
			}
		case pc["statecode"] != json.Number("1"):
			t.Errorf("a missed call's phonecall is not completed: %v", pc)
		default:
			missed++
		}
	}
	if talked == 0 || open != talked || missed == 0 {
		t.Fatalf("right after the calls: %d of %d connected calls open, %d missed", open, talked, missed)
	}
	waitFor(t, func() bool {
		for _, pc := range r.dv.PhonecallList() {
			if pc["statecode"] != json.Number("1") {
				return false
			}
		}
		return true
	})
	for _, pc := range r.dv.PhonecallList() {
		if pc["new_wrapcode"] != nil {
			t.Errorf("a code without a disposition: %v", pc)
		}
	}
}

// postForm sends a form to the daemon and returns the status and body.
func postForm(t *testing.T, u, form string) (int, string) {
	t.Helper()
	resp, err := http.Post(u, "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A reload (SIGHUP) applies new routing rules, wrap-up codes and callback
// profiles to the next request, without a restart.
func TestReloadDialplanSettings(t *testing.T) {
	r := newDialplanRig(t, time.Minute)
	swede := r.base + "/api/route?anum=%2B46701234567&bnum=%2B35850111222"
	if got := get(t, swede); got != "101" {
		t.Fatalf("before: a Swedish caller routes to %q", got)
	}
	if code, body := postForm(t, r.base+"/api/calls/"+ringCall+"/disposition", "user=102&code=LATE"); code != 422 {
		t.Fatalf("before: code LATE answered %d %s", code, body)
	}
	if code, body := postForm(t, r.base+"/api/callbacks", "number=%2B358401234567&queue=sales"); code != 404 {
		t.Fatalf("before: queue sales answered %d %s", code, body)
	}
	yaml := strings.NewReplacer(
		`prefixes: ["+46"], target: "101"`, `prefixes: ["+46"], target: "102"`,
		"codes: [SALE, NOSALE, CALLBACK]", "codes: [SALE, NOSALE, CALLBACK, LATE]",
		"    - {queue: support,", "    - {queue: sales, crm_queue: Support}\n    - {queue: support,",
	).Replace(r.yaml)
	if yaml == r.yaml || strings.Count(yaml, "LATE") != 1 || !strings.Contains(yaml, "queue: sales") {
		t.Fatal("the config did not change as the test means")
	}
	if err := os.WriteFile(r.path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	r.d.ConfigPath = r.path
	if err := r.d.ReloadNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := get(t, swede); got != "102" {
		t.Errorf("after: a Swedish caller routes to %q, want the new rule's 102", got)
	}
	if code, body := postForm(t, r.base+"/api/calls/"+ringCall+"/disposition", "user=102&code=LATE"); code != 202 || !strings.Contains(body, `"dynamics"`) {
		t.Errorf("after: code LATE answered %d %s", code, body)
	}
	if code, body := postForm(t, r.base+"/api/callbacks", "number=%2B358401234567&queue=sales"); code != 202 || !strings.Contains(body, `"dynamics"`) {
		t.Errorf("after: queue sales answered %d %s", code, body)
	}
}
