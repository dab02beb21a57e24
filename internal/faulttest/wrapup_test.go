package faulttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync/dynamics"
	"github.com/callbridge/callbridge/crmsync/dynamics/fakedataverse"
	"github.com/callbridge/callbridge/crmsync/store/redis/redistest"
	"github.com/callbridge/callbridge/internal/app/demo"
)

// ringGroup is the ring_group recording's call: Bob (102) answers it.
const ringGroup = "1795277480.20"

// wrapupConfig is a daemon that holds connected calls open for their
// wrap-up, writing to a fake Dataverse.
const wrapupConfig = `log_level: info
state_dir: %s
ari: {url: %s, username: %q, password: %q}
users:
  - {extension: "101", name: Alice, email: alice@example.com}
  - {extension: "102", name: Bob, email: bob@example.com}
trunks: [pstn]
default_region: FI
http: {listen: %q}
%s
delivery: {backoff_min: 50ms, backoff_max: 500ms, poll_interval: 50ms, lease: 2s, push_timeout: 1s, drain_timeout: 1s}
wrapup: {codes: [SALE, NOSALE], complete_on_wrap: true, timeout: %s}
crm:
  - type: dynamics
    dynamics:
      url: %s
      token_url: %s/t/oauth2/v2.0/token
      client_id: app
      client_secret: dv-secret
      wrapup: {field: new_wrapcode}
`

// wrapupRig is one callbridge process, restarted by the test, in front of
// a fake Asterisk and a fake Dataverse in the test process.
type wrapupRig struct {
	t     *testing.T
	d     *daemon
	dv    *fakedataverse.Server
	ari   *fakeari.Server
	redis *redistest.Server
}

func newWrapupRig(t *testing.T, store string, timeout time.Duration) *wrapupRig {
	recs, err := demo.Recordings()
	if err != nil {
		t.Fatal(err)
	}
	ari, err := fakeari.New(fakeari.Options{Recordings: recs, AwaitList: true, Hold: true})
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
	dv.AddUser(fakedataverse.SystemUser{ID: "00000000-0000-4000-8000-00000000a11c", Email: "alice@example.com"})
	dv.AddUser(fakedataverse.SystemUser{ID: "00000000-0000-4000-8000-0000000000b0", Email: "bob@example.com"})
	r := &wrapupRig{t: t, dv: dv, ari: ari}
	storeCfg := ""
	if store == "redis" {
		r.redis = redistest.Start(t)
		storeCfg = fmt.Sprintf("store: {type: redis, redis_url: %q, redis_prefix: wrapup}", r.redis.URL())
	}
	dir := filepath.Join(t.TempDir(), "cb")
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	r.d = &daemon{name: "callbridge", bin: callbridge(t, ""), config: filepath.Join(dir, "callbridge.yaml"), log: filepath.Join(dir, "stderr.log"), http: freeAddr(t)}
	cfg := fmt.Sprintf(wrapupConfig, state, ari.URL(), ari.Username(), ari.Password(), r.d.http, storeCfg, timeout, srv.URL, srv.URL)
	if err := os.WriteFile(r.d.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.d.stop()
		if t.Failed() {
			t.Logf("--- callbridge's stderr ---\n%s", r.d.tail(60))
		}
	})
	return r
}

func (r *wrapupRig) start() {
	r.t.Helper()
	if err := r.d.start(); err != nil {
		r.t.Fatal(err)
	}
	r.wait("the HTTP listener", func() bool {
		resp, err := http.Get("http://" + r.d.http + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
}

func (r *wrapupRig) wait(what string, cond func() bool) {
	r.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// bobs is Bob's phonecall for the ring-group call.
func (r *wrapupRig) bobs() (fakedataverse.Record, bool) {
	return r.dv.Phonecall(dynamics.RecordID(bridge.ActivityID("", ringGroup, "102")))
}

// playUntilOpen plays the recorded calls and waits for Bob's phonecall
// to be written, open.
func (r *wrapupRig) playUntilOpen() {
	r.t.Helper()
	go r.ari.Play(r.t.Context())
	r.wait("Bob's phonecall, open", func() bool {
		pc, ok := r.bobs()
		return ok && pc["statecode"] == json.Number("0")
	})
}

// crash SIGKILLs callbridge, with Redis restarted underneath when it is
// the store, and starts it again.
func (r *wrapupRig) crash() {
	r.t.Helper()
	r.d.kill()
	if r.redis != nil {
		r.redis.Restart(r.t)
	}
	r.start()
}

// Wrap-up with wrapup.complete_on_wrap against the strict fake Dataverse,
// with callbridge SIGKILLed between the hang-up (phonecall written open)
// and the wrap-up: the disposition that comes after the restart completes
// the phonecall with its code; without one, the pending completion is
// still in the store after the restart and completes it at the timeout.
// Both with the embedded store and with Redis (restarted too).
func TestWrapupSurvivesKill(t *testing.T) {
	skipRace(t)
	for _, store := range []string{"embedded", "redis"} {
		t.Run(store+"/disposition", func(t *testing.T) {
			r := newWrapupRig(t, store, time.Hour)
			r.start()
			r.playUntilOpen()
			r.crash()
			if pc, _ := r.bobs(); pc["statecode"] != json.Number("0") {
				t.Fatalf("completed before its wrap-up: %v", pc)
			}
			resp, err := http.Post("http://"+r.d.http+"/api/calls/"+ringGroup+"/disposition", "application/x-www-form-urlencoded",
				strings.NewReader("user=102&code=SALE"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("disposition: %d", resp.StatusCode)
			}
			r.wait("Bob's phonecall completed with SALE", func() bool {
				pc, _ := r.bobs()
				return pc["statecode"] == json.Number("1") && pc["new_wrapcode"] == "SALE"
			})
		})
		t.Run(store+"/timeout", func(t *testing.T) {
			const timeout = 4 * time.Second
			r := newWrapupRig(t, store, timeout)
			r.start()
			r.playUntilOpen()
			seen := time.Now()
			r.crash()
			r.wait("Bob's phonecall completed at the timeout", func() bool {
				pc, _ := r.bobs()
				return pc["statecode"] == json.Number("1")
			})
			if time.Since(seen) < timeout/2 {
				t.Errorf("completed %v after being seen open, before the %v timeout", time.Since(seen), timeout)
			}
			if pc, _ := r.bobs(); pc["new_wrapcode"] != nil {
				t.Errorf("a code without a disposition: %v", pc)
			}
		})
	}
}
