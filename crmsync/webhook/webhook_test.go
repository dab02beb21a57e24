package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/webhook"
)

const secret = "whsec-7c2f0e1b9a"

// verify is an independent check of a request's signature, written from
// the README rather than from the package: HMAC-SHA256 over "<t>.<body>".
func verify(r *http.Request, body []byte, key string) bool {
	var ts, sig string
	for _, p := range strings.Split(r.Header.Get("X-Callbridge-Signature"), ",") {
		k, v, _ := strings.Cut(p, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(t, 0)).Abs() > 5*time.Minute {
		return false
	}
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(ts + "." + string(body)))
	want := hex.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(sig), []byte(want))
}

// sink is a receiver that keeps each activity once, by Idempotency-Key,
// and refuses what a careful receiver refuses. Every body it is sent is
// checked against body.schema.json.
type sink struct {
	t         testing.TB
	schema    *schema
	mu        sync.Mutex
	got       map[string]webhook.Body
	hits      map[string]int
	key       string
	open      map[string]bool   // activities waiting for their wrap-up
	codes     map[string]string // wrap-up codes by activity id
	callbacks map[string]webhook.CallbackEvent
}

func newSink(t testing.TB, key string) *sink {
	return &sink{t: t, schema: loadSchema(t), got: map[string]webhook.Body{}, hits: map[string]int{}, key: key,
		open: map[string]bool{}, codes: map[string]string{}, callbacks: map[string]webhook.CallbackEvent{}}
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if !verify(r, body, s.key) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.Header.Get(webhook.EventHeader) {
	case webhook.EventActivity:
		checkBody(s.t, s.schema, body)
		var a webhook.Body
		if err := json.Unmarshal(body, &a); err != nil || a.ID == "" || a.ID != key {
			http.Error(w, "bad activity", http.StatusUnprocessableEntity)
			return
		}
		s.hits[a.ID]++
		if _, ok := s.got[a.ID]; !ok {
			s.got[a.ID] = a
			s.open[a.ID] = !a.Completed
		}
	case webhook.EventUpdate:
		checkUpdate(s.t, s.schema, body)
		var u webhook.Update
		if err := json.Unmarshal(body, &u); err != nil || u.ID != key || u.Event != webhook.EventUpdate {
			http.Error(w, "bad update", http.StatusUnprocessableEntity)
			return
		}
		if _, ok := s.got[u.ActivityID]; !ok {
			http.Error(w, "no such activity", http.StatusNotFound)
			return
		}
		if u.WrapUp != nil {
			s.codes[u.ActivityID] = u.WrapUp.Code
		}
		if u.Complete {
			s.open[u.ActivityID] = false
		}
	case webhook.EventCallback:
		var cb webhook.CallbackEvent
		if err := json.Unmarshal(body, &cb); err != nil || "callback:"+cb.ID != key || cb.Group == "" {
			http.Error(w, "bad callback", http.StatusUnprocessableEntity)
			return
		}
		s.callbacks[cb.ID] = cb
	default:
		http.Error(w, "unknown event", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *sink) record(id string) (open bool, code string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok = s.got[id]
	return s.open[id], s.codes[id], ok
}

func (s *sink) callbackCount(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.callbacks[id]; ok {
		return 1
	}
	return 0
}

func (s *sink) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.got[id]; ok {
		return 1
	}
	return 0
}

func TestConformance(t *testing.T) {
	s := newSink(t, secret)
	crmtest.Run(t, crmtest.Harness{
		New: func(t *testing.T, base string, log zerolog.Logger) crmtest.Connector {
			w, err := webhook.New("hook", webhook.Config{
				URL:     base + "/calls?token=query-token-55aa",
				Secret:  secret,
				Headers: map[string]webhook.Secret{"Authorization": "Bearer api-key-91c3"},
				Timeout: 2 * time.Second,
			}, webhook.Options{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			return w
		},
		Fake:          s,
		Count:         s.count,
		Secrets:       []string{secret, "Bearer api-key-91c3", "api-key-91c3", "query-token-55aa"},
		Record:        s.record,
		Callbacks:     s.callbackCount,
		CallbackQueue: "Support",
	})
}

func TestSignedBodyIsTheActivity(t *testing.T) {
	s := newSink(t, secret)
	srv := httptest.NewServer(s)
	defer srv.Close()
	w, err := webhook.New("hook", webhook.Config{URL: srv.URL, Secret: secret}, webhook.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	a := crmtest.Activity("sig-1")
	if err := w.Push(context.Background(), crmsync.Delivery{Activity: a}); err != nil {
		t.Fatal(err)
	}
	got := s.got["sig-1"]
	if !got.StartedAt.Equal(a.StartedAt) || got.RemoteNumber != a.RemoteNumber || got.TalkSeconds != a.TalkSeconds {
		t.Errorf("received %+v", got)
	}
	// A receiver with another secret refuses it: 401, which the worker
	// answers with a refresh and one more try.
	w2, _ := webhook.New("hook", webhook.Config{URL: srv.URL, Secret: "another-secret"}, webhook.Options{Logger: zerolog.Nop()})
	if err := w2.Push(context.Background(), crmtest.Delivery("sig-2")); err == nil {
		t.Error("push with a wrong secret accepted")
	}
}

func TestSecretSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("from-file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "webhook"), []byte("from-credential"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	for _, tt := range []struct {
		name string
		cfg  webhook.Config
		key  string
	}{
		{"file", webhook.Config{SecretFile: file}, "from-file-secret"},
		{"credential", webhook.Config{SecretCredential: "webhook"}, "from-credential"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(t, tt.key)
			srv := httptest.NewServer(s)
			defer srv.Close()
			tt.cfg.URL = srv.URL
			w, err := webhook.New("hook", tt.cfg, webhook.Options{Logger: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Push(context.Background(), crmtest.Delivery("s")); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Rotation: the file changes, the receiver follows, Refresh picks it up.
	s := newSink(t, "from-file-secret")
	srv := httptest.NewServer(s)
	defer srv.Close()
	w, err := webhook.New("hook", webhook.Config{URL: srv.URL, SecretFile: file}, webhook.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, []byte("rotated"), 0o600)
	s.mu.Lock()
	s.key = "rotated"
	s.mu.Unlock()
	if err := w.Push(context.Background(), crmtest.Delivery("r1")); err == nil {
		t.Fatal("old secret accepted after rotation")
	}
	if err := w.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Push(context.Background(), crmtest.Delivery("r1")); err != nil {
		t.Fatalf("after refresh: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  webhook.Config
		want []string
	}{
		{"ok", webhook.Config{URL: "https://crm.example/hook", Secret: "x"}, nil},
		{"empty", webhook.Config{}, []string{"url: required", "secret: required"}},
		{"bad url", webhook.Config{URL: "ftp://x", Secret: "x"}, []string{"url: want"}},
		{"two secrets", webhook.Config{URL: "http://x", Secret: "x", SecretFile: "/f"}, []string{"secret: set only one"}},
		{"credential path", webhook.Config{URL: "http://x", SecretCredential: "../x"}, []string{"secret_credential:"}},
		{"reserved header", webhook.Config{URL: "http://x", Secret: "x", Headers: map[string]webhook.Secret{"idempotency-key": "1"}}, []string{"headers.idempotency-key: set by callbridge"}},
		{"half client cert", webhook.Config{URL: "http://x", Secret: "x", TLS: webhook.TLSConfig{CertFile: "c"}}, []string{"tls.cert_file"}},
		{"negative timeout", webhook.Config{URL: "http://x", Secret: "x", Timeout: -1}, []string{"timeout:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "x\"") && tt.cfg.Secret != "" {
				t.Errorf("error repeats the secret: %v", err)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	cfg := webhook.Config{URL: "http://x", Secret: "hunter2-hunter2"}
	b, _ := json.Marshal(cfg)
	if strings.Contains(string(b), "hunter2") || strings.Contains(cfg.Secret.String(), "hunter2") {
		t.Errorf("secret printed: %s", b)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"a"}`)
	now := time.Unix(1763741474, 0)
	h := webhook.Sign([]byte("k"), now.Unix(), body)
	tests := []struct {
		name   string
		header string
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"good", h, body, now, true},
		{"other body", h, []byte(`{"id":"b"}`), now, false},
		{"stale", h, body, now.Add(10 * time.Minute), false},
		{"rotation: second v1 matches", "t=1763741474,v1=" + strings.Repeat("00", 32) + "," + strings.Split(h, ",")[1], body, now, true},
		{"future scheme ignored", h + ",v2=zz", body, now, true},
		{"no timestamp", strings.Split(h, ",")[1], body, now, false},
		{"garbage", "hello", body, now, false},
		{"short mac", "t=1,v1=abcd", body, now, false},
	}
	for _, tt := range tests {
		err := webhook.Verify([]byte("k"), tt.header, tt.body, tt.now, 5*time.Minute)
		if (err == nil) != tt.ok {
			t.Errorf("%s: Verify = %v", tt.name, err)
		}
	}
}

func FuzzParseSignature(f *testing.F) {
	body := []byte(`{"id":"6c1d...","call_id":"1763741470.0","user":"101","remote_number":"+358401234567"}`)
	f.Add(webhook.Sign([]byte(secret), 1763741474, body))
	f.Add("t=1763741474,v1=" + strings.Repeat("ab", 32) + ",v1=" + strings.Repeat("cd", 32))
	f.Add("t=-1,v1=")
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		s, err := webhook.ParseSignature(h)
		if err != nil {
			return
		}
		if len(s.V1) == 0 || s.Time < 0 {
			t.Fatalf("accepted %q as %+v", h, s)
		}
		for _, m := range s.V1 {
			if len(m) != sha256.Size {
				t.Fatalf("mac of %d bytes", len(m))
			}
		}
	})
}

// The policy's assignment travels in the body: policy.default_assignee,
// the users' e-mails and CRM ids and the template codes reach a receiver
// that owns records itself. Without one crm_user is null.
func TestBodyCarriesAssignment(t *testing.T) {
	var mu sync.Mutex
	bodies := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies[r.Header.Get("Idempotency-Key")] = string(b)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	w, err := webhook.New("hook", webhook.Config{URL: srv.URL, Secret: secret}, webhook.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for id, as := range map[string]crmsync.Assignment{
		"as-1": {CRMUser: "crm-queue", Template: "PHONE-IN"},
		"as-2": {CRMUser: "u-bob", Mapped: true, Email: "bob@example.com"},
		"as-3": {},
	} {
		if err := w.Push(ctx, crmsync.Delivery{Activity: crmtest.Activity(id), Assignment: as}); err != nil {
			t.Fatal(err)
		}
	}
	for id, want := range map[string]string{
		"as-1": `,"crm_user":{"id":"crm-queue","email":"","mapped":false},"template":"PHONE-IN","matches":[],"completed":true,"wrap_up":null}`,
		"as-2": `,"crm_user":{"id":"u-bob","email":"bob@example.com","mapped":true},"template":"","matches":[],"completed":true,"wrap_up":null}`,
		"as-3": `,"crm_user":null,"template":"","matches":[],"completed":true,"wrap_up":null}`,
	} {
		if !strings.HasSuffix(bodies[id], want) {
			t.Errorf("%s: body %s, want it to end %s", id, bodies[id], want)
		}
	}
	var a bridge.Activity
	if err := json.Unmarshal([]byte(bodies["as-1"]), &a); err != nil || a.ID != "as-1" {
		t.Errorf("the body is still an activity: %v %+v", err, a)
	}
}
