package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/ami/fakeami"
	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync/store/redis/redistest"
	"github.com/callbridge/callbridge/internal/app"
	"github.com/callbridge/callbridge/internal/app/demo"
)

// Keys of config/example.yaml shown doing what docs/config.md says, from
// the config file through the daemon as `callbridge run` builds it.

// assignments is a webhook receiver keeping each activity's user and the
// policy's assignment the body carries.
type assignments struct {
	mu  sync.Mutex
	got map[string]map[string]any // activity id -> assignment ("user" added)
}

func (r *assignments) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	var body struct {
		ID      string `json:"id"`
		User    string `json:"user"`
		State   string `json:"state"`
		CRMUser *struct {
			ID     string `json:"id"`
			Email  string `json:"email"`
			Mapped bool   `json:"mapped"`
		} `json:"crm_user"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	as := map[string]any{"user": body.User, "state": body.State}
	if u := body.CRMUser; u != nil {
		for k, v := range map[string]any{"crm_user": u.ID, "email": u.Email, "mapped": u.Mapped} {
			if v != "" && v != false {
				as[k] = v
			}
		}
	}
	if body.Template != "" {
		as["template"] = body.Template
	}
	r.mu.Lock()
	r.got[body.ID] = as
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *assignments) byUser() map[string][]map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]map[string]any{}
	for _, as := range r.got {
		out[as["user"].(string)] = append(out[as["user"].(string)], as)
	}
	return out
}

func (r *assignments) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.got) }

// users[].crm_user_id, users[].email, policy.users.<ext>.email,
// policy.defaults.email, policy.default_assignee and
// policy.defaults.templates reach the CRM: here a webhook receiver, which
// gets them as the body's crm_user and template.
func TestKeysAssignmentReachTheCRM(t *testing.T) {
	recs, err := demo.Recordings()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fakeari.New(fakeari.Options{Recordings: recs, AwaitList: true, Username: "cb", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rcv := &assignments{got: map[string]map[string]any{}}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	dir := t.TempDir()
	yaml := fmt.Sprintf(`
state_dir: %s
ari: {url: %s, username: cb, password: pw}
trunks: [pstn]
http: {listen: ""}
users:
  - {extension: "101", email: alice@example.com, crm_user_id: u-alice}
  - {extension: "102", email: bob@example.com}
  - {extension: "103"}
policy:
  default_assignee: crm-queue
  defaults:
    email: team@example.com
    templates: {incoming: PHONE-IN, outgoing: PHONE-OUT, missed_incoming: PHONE-MISSED, unaccepted_outgoing: PHONE-NOANSWER}
  users:
    "102": {email: bob.crm@example.com}
delivery: {backoff_min: 50ms, backoff_max: 200ms, poll_interval: 50ms}
crm:
  - type: webhook
    webhook: {url: %s, secret: hook-secret}
`, dir, srv.URL(), hook.URL)
	_, _, ctx, stop := runDaemon(t, dir, yaml, zerolog.Nop())
	if err := srv.Play(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return rcv.count() >= 12 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{
		// crm_user_id: mapped explicitly; the directory's e-mail travels.
		"101": {"crm_user": "u-alice", "mapped": true, "email": "alice@example.com"},
		// policy.users.102.email beats the directory's; unmapped: the
		// default assignee.
		"102": {"crm_user": "crm-queue", "email": "bob.crm@example.com"},
		// No e-mail of their own: policy.defaults.email.
		"103": {"crm_user": "crm-queue", "email": "team@example.com"},
	}
	templates := map[string]bool{}
	for user, list := range rcv.byUser() {
		for _, as := range list {
			for k, v := range want[user] {
				if as[k] != v {
					t.Errorf("user %s: assignment %v, want %s %v", user, as, k, v)
				}
			}
			if _, mapped := as["mapped"]; mapped != (user == "101") {
				t.Errorf("user %s: assignment %v", user, as)
			}
			templates[as["template"].(string)] = true
		}
	}
	for _, tm := range []string{"PHONE-IN", "PHONE-OUT", "PHONE-MISSED", "PHONE-NOANSWER"} {
		if !templates[tm] {
			t.Errorf("no activity with template %s: %v", tm, templates)
		}
	}
}

// state_dir holds the queue, the journal and, by default, the activity
// file (sink.file).
func TestKeyStateDir(t *testing.T) {
	recs, err := demo.Recordings()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fakeari.New(fakeari.Options{Recordings: recs[:1], AwaitList: true, Username: "cb", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	state := filepath.Join(dir, "var", "callbridge")
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer hook.Close()
	yaml := fmt.Sprintf("state_dir: %s\nari: {url: %s, username: cb, password: pw}\ntrunks: [pstn]\nhttp: {listen: \"\"}\ncrm:\n  - type: webhook\n    webhook: {url: %s, secret: s}\n",
		state, srv.URL(), hook.URL)
	_, cfg, ctx, stop := runDaemon(t, dir, yaml, zerolog.Nop())
	if err := srv.Play(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(readSink(t, filepath.Join(state, "activities.jsonl"))) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if cfg.Sink.File != filepath.Join(state, "activities.jsonl") {
		t.Errorf("sink.file %s", cfg.Sink.File)
	}
	for _, p := range []string{"queue/queue.db", "journal"} {
		if _, err := os.Stat(filepath.Join(state, p)); err != nil {
			t.Errorf("state_dir lacks %s: %v", p, err)
		}
	}
}

// pbx_id namespaces the activity ids: the same call from another PBX is
// another activity.
func TestKeyPBXID(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join("..", "..", "testdata", "recordings", "inbound_answered", "ari.jsonl")
	ids := map[string]string{}
	for _, pbx := range []string{"", "hq"} {
		cfg := filepath.Join(dir, "c"+pbx+".yaml")
		if err := os.WriteFile(cfg, []byte("trunks: [pstn]\npbx_id: \""+pbx+"\"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		if err := app.Replay(app.ReplayOptions{Source: "ari", File: rec, Config: cfg}, &out, &errOut); err != nil {
			t.Fatal(err, errOut.String())
		}
		var a bridge.Activity
		if err := json.Unmarshal(out.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		ids[pbx] = a.ID
		if a.ID != bridge.ActivityID(pbx, a.CallID, a.User) {
			t.Errorf("pbx_id %q: id %s, want ActivityID(%q, %s, %s)", pbx, a.ID, pbx, a.CallID, a.User)
		}
	}
	if ids[""] == ids["hq"] {
		t.Error("pbx_id did not change the id")
	}
}

// ami.host, ami.port, ami.username and ami.secret_file: the daemon follows
// Asterisk over AMI.
func TestKeysAMI(t *testing.T) {
	rec, err := os.ReadFile(filepath.Join("..", "..", "testdata", "recordings", "inbound_answered", "ami.txt"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fakeami.Start(fakeami.Config{Recording: rec, Username: "cb-ami", Secret: "ami-s3cret", HoldUntilSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ami-secret"), []byte("ami-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf("state_dir: %s\nami: {host: %s, port: %d, username: cb-ami, secret_file: ami-secret}\ntrunks: [pstn]\nhttp: {listen: \"\"}\n",
		dir, srv.Host(), srv.Port())
	_, cfg, _, stop := runDaemon(t, dir, yaml, zerolog.Nop())
	waitFor(t, func() bool { return len(readSink(t, cfg.Sink.File)) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if a := readSink(t, cfg.Sink.File)[0]; a.Source != "ami" || a.User != "101" {
		t.Errorf("activity %+v", a)
	}
}

// store.type redis, store.redis_url_file and store.redis_prefix: the queue
// lives in that Redis, under that prefix.
func TestKeysRedisStore(t *testing.T) {
	rs := redistest.Start(t)
	recs, err := demo.Recordings()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fakeari.New(fakeari.Options{Recordings: recs[:1], AwaitList: true, Username: "cb", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var mu sync.Mutex
	n := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "redis-url"), []byte(rs.URL()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`state_dir: %s
ari: {url: %s, username: cb, password: pw}
trunks: [pstn]
http: {listen: ""}
store: {type: redis, redis_url_file: redis-url, redis_prefix: cbkeys}
delivery: {poll_interval: 50ms}
crm:
  - type: webhook
    webhook: {url: %s, secret: s}
`, dir, srv.URL(), hook.URL)
	_, cfg, ctx, stop := runDaemon(t, dir, yaml, zerolog.Nop())
	if err := srv.Play(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return n == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(&goredis.Options{Addr: rs.Addr})
	defer rdb.Close()
	bg := context.Background()
	ours, err := rdb.Keys(bg, "*cbkeys*").Result()
	if err != nil {
		t.Fatal(err)
	}
	others, _ := rdb.Keys(bg, "*callbridge*").Result()
	if len(ours) == 0 || len(others) != 0 {
		t.Errorf("keys under the prefix %v, under the default %v", ours, others)
	}
	if _, err := os.Stat(filepath.Join(dir, "queue")); err == nil {
		t.Error("an embedded queue was made beside the Redis one")
	}
	st, err := app.OpenStore(bg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stats, err := st.Stats(bg)
	if err != nil || len(stats) != 1 || stats[0].Delivered != 1 {
		t.Errorf("the store's stats: %+v %v", stats, err)
	}
}

// ami.tls: the manager connection starts with a TLS handshake (a real
// Asterisk's tlsenable port); the listener here only reads its first
// bytes.
func TestKeyAMITLS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	first := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b := make([]byte, 3)
		_, _ = io.ReadFull(c, b)
		first <- b
	}()
	dir := t.TempDir()
	port := ln.Addr().(*net.TCPAddr).Port
	yaml := fmt.Sprintf("state_dir: %s\nami: {host: 127.0.0.1, port: %d, username: cb, secret: s, tls: true}\nhttp: {listen: \"\"}\n", dir, port)
	_, _, _, stop := runDaemon(t, dir, yaml, zerolog.Nop())
	defer stop()
	select {
	case b := <-first:
		// A TLS record of type handshake (22), version 3.x.
		if b[0] != 0x16 || b[1] != 0x03 {
			t.Errorf("first bytes % x: not a TLS handshake", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no connection")
	}
}

// extension_pattern decides which endpoints are users when users is empty;
// trunks are never users, even when their names match it.
func TestKeysPatternAndTrunks(t *testing.T) {
	rec := filepath.Join("..", "..", "testdata", "recordings", "inbound_answered", "ari.jsonl")
	users := func(yaml string) map[string]bool {
		t.Helper()
		cfg := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		if err := app.Replay(app.ReplayOptions{Source: "ari", File: rec, Config: cfg, All: true}, &out, &errOut); err != nil {
			t.Fatal(err, errOut.String())
		}
		got := map[string]bool{}
		for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
			var a bridge.Activity
			if len(line) > 0 && json.Unmarshal(line, &a) == nil {
				got[a.User] = true
			}
		}
		return got
	}
	// The call: the trunk pstn rings 101.
	for _, tt := range []struct {
		yaml string
		want string
	}{
		{"trunks: [pstn]\n", "101"},
		{"trunks: [pstn]\nextension_pattern: ^2[0-9]{2}$\n", ""},
		// A pattern that matches the trunk's name makes it a user...
		{"extension_pattern: ^[a-z0-9]+$\n", "101 pstn"},
		// ...unless trunks says otherwise.
		{"extension_pattern: ^[a-z0-9]+$\ntrunks: [pstn]\n", "101"},
	} {
		got := users(tt.yaml)
		var names []string
		for u := range got {
			names = append(names, u)
		}
		sort.Strings(names)
		if s := strings.Join(names, " "); s != tt.want {
			t.Errorf("%q: users %q, want %q", tt.yaml, s, tt.want)
		}
	}
}
