package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync/webhook"
	"github.com/callbridge/callbridge/internal/app/demo"
)

// receiver is a CRM webhook endpoint that checks every signature and counts
// what it was given, by activity id.
type receiver struct {
	secret []byte
	mu     sync.Mutex
	got    map[string]int
	acts   []bridge.Activity
	bad    int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := webhook.Verify(r.secret, req.Header.Get(webhook.SignatureHeader), body, time.Now(), time.Minute); err != nil {
		r.mu.Lock()
		r.bad++
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var a bridge.Activity
	if err := json.Unmarshal(body, &a); err != nil || req.Header.Get("Idempotency-Key") != a.ID {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.got[a.ID]++
	if r.got[a.ID] == 1 {
		r.acts = append(r.acts, a)
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// With a webhook connector configured, every activity the policy accepts is
// delivered once, signed; answered-elsewhere legs are not (default policy),
// but still reach the sink file.
func TestRunDeliversToWebhook(t *testing.T) {
	recs, err := demo.Recordings()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fakeari.New(fakeari.Options{Recordings: recs, AwaitList: true, Username: "cb", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rcv := &receiver{secret: []byte("hook-secret"), got: map[string]int{}}
	hook := httptest.NewServer(rcv)
	defer hook.Close()

	dir := t.TempDir()
	yaml := fmt.Sprintf(`
state_dir: %s
ari: {url: %s, username: cb, password: pw}
trunks: [pstn]
http: {listen: ""}
policy: {start_margin: 2s}
delivery: {backoff_min: 50ms, backoff_max: 200ms, poll_interval: 50ms}
crm:
  - type: webhook
    webhook: {url: %s, secret: hook-secret}
`, dir, srv.URL(), hook.URL)
	_, cfg, ctx, stop := runDaemon(t, dir, yaml, zerolog.Nop())
	if err := srv.Play(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		rcv.mu.Lock()
		n := len(rcv.got)
		rcv.mu.Unlock()
		if n >= 12 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // anything extra would show now
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.got) != 12 || rcv.bad != 0 {
		t.Fatalf("webhook got %d activities (%d bad signatures), want 12", len(rcv.got), rcv.bad)
	}
	for id, n := range rcv.got {
		if n != 1 {
			t.Errorf("activity %s delivered %d times", id, n)
		}
	}
	for _, a := range rcv.acts {
		if a.Reason == bridge.ReasonAnsweredElsewhere {
			t.Errorf("answered-elsewhere activity delivered: %+v", a)
		}
	}
	if n := len(readSink(t, cfg.Sink.File)); n != 14 {
		t.Errorf("sink.file has %d activities, want all 14", n)
	}
}
