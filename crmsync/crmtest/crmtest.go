package crmtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// Connector is the connector under test.
type Connector = crmsync.Connector

// Harness adapts one connector to the suite.
type Harness struct {
	// New builds the connector against a fake CRM at baseURL, logging to
	// log at debug level.
	New func(t *testing.T, baseURL string, log zerolog.Logger) Connector
	// Fake is the connector's fake CRM API: it accepts what the real API
	// accepts and answers success.
	Fake http.Handler
	// Count says how many activities with id the fake now holds.
	Count func(id string) int
	// Secrets are values that must never appear in errors or logs. The
	// suite adds every credential it sees on a request (a token the
	// connector obtained, an API key in a header or the query).
	Secrets []string
	// Entities are what the suite lists through the connector's
	// phoneindex.Source, if it is one (nil: none).
	Entities []phoneindex.Entity

	// Record, for a connector that implements crmsync.Updater, says how
	// the fake holds the activity with id: open or completed, and the
	// wrap-up code written to it ("" for none). ok is false when the
	// fake holds no such activity. Nil skips the update tests; a
	// connector that is an Updater must set it.
	Record func(id string) (open bool, code string, ok bool)
	// Callbacks, for a connector that implements crmsync.CallbackWriter,
	// says how many callback requests with id the fake holds; nil skips
	// the callback tests, and a CallbackWriter must set it.
	Callbacks func(id string) int
	// CallbackQueue is a CRM queue the fake knows, for the requests.
	CallbackQueue string
}

// Activity is a sample activity (the short_call recording: 101 answers
// +358401234567 and talks 2 s).
func Activity(id string) bridge.Activity {
	start := time.Date(2026, 11, 21, 16, 11, 10, 9_000_000, time.UTC)
	return bridge.Activity{
		ID: id, CallID: "1763741470.0", User: "101", UserName: "Alice", LocalNumber: "101",
		Direction: bridge.Inbound, State: bridge.Connected, Reason: bridge.ReasonAnswered,
		RemoteNumber: "+358401234567", RemoteE164: "+358401234567", DDI: "+35850111222",
		StartedAt: start, AnsweredAt: start.Add(2005 * time.Millisecond), EndedAt: start.Add(4018 * time.Millisecond),
		RingSeconds: 2.005, TalkSeconds: 2.013, Privacy: bridge.PrivacyWork, Source: "ari",
	}
}

// Delivery is Activity(id) as the dispatcher hands it to a connector, with
// the zero assignment (the connector's defaults).
func Delivery(id string) crmsync.Delivery { return DeliveryOf(Activity(id)) }

// DeliveryOf is a with the zero assignment: the connector's defaults.
func DeliveryOf(a bridge.Activity) crmsync.Delivery { return crmsync.Delivery{Activity: a} }

// Deliveries is DeliveryOf of each of acts.
func Deliveries(acts []bridge.Activity) []crmsync.Delivery {
	out := make([]crmsync.Delivery, len(acts))
	for i, a := range acts {
		out[i] = DeliveryOf(a)
	}
	return out
}

// fault is what the front of the fake answers instead of the fake.
type fault struct {
	status int
	header http.Header
	body   string
	hang   bool
	// echo puts the whole request (headers, query, body) into the answer
	// and its WWW-Authenticate header, as a careless API might.
	echo bool
}

type front struct {
	mu    sync.Mutex
	fault *fault
	fake  http.Handler
	stop  chan struct{}
	creds map[string]bool // credentials seen on requests: tokens, API keys
}

// credentials notes what r carries that authenticates it.
func (f *front) credentials(r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, vs := range r.Header {
		switch strings.ToLower(k) {
		case "authorization", "x-api-token", "cookie", "bpmcsrf", "api-key", "x-api-key":
			for _, v := range vs {
				if strings.ToLower(k) == "authorization" {
					// The scheme (Bearer, Zoho-oauthtoken) is no secret.
					if _, cred, ok := strings.Cut(v, " "); ok {
						v = cred
					}
				}
				for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ';' || r == '=' }) {
					if len(p) >= 12 {
						f.creds[p] = true
					}
				}
			}
		}
	}
	for k, vs := range r.URL.Query() {
		if strings.Contains(strings.ToLower(k), "token") || strings.Contains(strings.ToLower(k), "key") {
			for _, v := range vs {
				if len(v) >= 8 {
					f.creds[v] = true
				}
			}
		}
	}
}

func (f *front) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.creds))
	for c := range f.creds {
		out = append(out, c)
	}
	return out
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.credentials(r)
	f.mu.Lock()
	ft := f.fault
	f.mu.Unlock()
	if ft == nil {
		f.fake.ServeHTTP(w, r)
		return
	}
	if ft.echo {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		// Credentials first: a connector that quotes only the start of
		// an answer must still be caught.
		var e strings.Builder
		for _, k := range []string{"Authorization", "X-Api-Token", "Cookie", "Bpmcsrf"} {
			if v := r.Header.Get(k); v != "" {
				fmt.Fprintf(&e, "%s: %s ", k, v)
			}
		}
		fmt.Fprintf(&e, "%s ", r.URL.RawQuery)
		e.Write(b[:min(len(b), 512)])
		w.Header().Set("WWW-Authenticate", "Bearer error=\"invalid_token\", echo=\""+strings.Join(r.Header.Values("Authorization"), " ")+"\"")
		body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "echo", "message": e.String()},
			"message": e.String(), "errorCode": "ECHO", "errors": []map[string]string{{"message": e.String()}}})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ft.status)
		_, _ = w.Write(body)
		return
	}
	if ft.hang {
		select {
		case <-r.Context().Done():
		case <-f.stop:
		}
		return
	}
	for k, v := range ft.header {
		w.Header()[k] = v
	}
	w.WriteHeader(ft.status)
	_, _ = w.Write([]byte(ft.body))
}

func (f *front) set(ft *fault) { f.mu.Lock(); f.fault = ft; f.mu.Unlock() }

// syncBuffer collects log output from concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	f := &front{fake: h.Fake, stop: make(chan struct{}), creds: map[string]bool{}}
	srv := httptest.NewServer(f)
	t.Cleanup(func() { close(f.stop); srv.Close() })
	logs := &syncBuffer{}
	log := zerolog.New(logs).Level(zerolog.DebugLevel)
	c := h.New(t, srv.URL, log)
	ctx := context.Background()
	var errs []error
	// Bodies echo the secrets, as a careless API might.
	echo := strings.Join(h.Secrets, " ")

	tests := []struct {
		name      string
		fault     *fault
		permanent bool
		unauth    bool
		after     time.Duration
		timeout   time.Duration
	}{
		{name: "500", fault: &fault{status: 500, body: "oops " + echo}},
		{name: "502", fault: &fault{status: 502}},
		{name: "503 Retry-After seconds", fault: &fault{status: 503, header: http.Header{"Retry-After": {"42"}}}, after: 42 * time.Second},
		{name: "429 Retry-After seconds", fault: &fault{status: 429, header: http.Header{"Retry-After": {"3"}}}, after: 3 * time.Second},
		{name: "400", fault: &fault{status: 400, body: "bad " + echo}, permanent: true},
		{name: "403", fault: &fault{status: 403}, permanent: true},
		{name: "404", fault: &fault{status: 404}, permanent: true},
		{name: "422", fault: &fault{status: 422, body: `{"error":"unknown field"}`}, permanent: true},
		{name: "401", fault: &fault{status: 401, body: "token " + echo}, unauth: true},
		{name: "400 echoing the request", fault: &fault{status: 400, echo: true}, permanent: true},
		{name: "401 echoing the request", fault: &fault{status: 401, echo: true}, unauth: true},
		{name: "503 echoing the request", fault: &fault{status: 503, echo: true}},
		{name: "timeout", fault: &fault{hang: true}, timeout: 300 * time.Millisecond},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.set(tt.fault)
			defer f.set(nil)
			pctx := ctx
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				pctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			err := c.Push(pctx, Delivery("fault-"+strconv.Itoa(i)))
			if err == nil {
				t.Fatal("push succeeded against a failing CRM")
			}
			errs = append(errs, err)
			if got := crmerr.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v: %v", got, tt.permanent, err)
			}
			if got := crmerr.IsUnauthorized(err); got != tt.unauth {
				t.Errorf("IsUnauthorized = %v, want %v: %v", got, tt.unauth, err)
			}
			if d, _ := crmerr.RetryAfter(err); d < tt.after || (tt.after == 0 && d != 0) {
				t.Errorf("RetryAfter = %v, want %v: %v", d, tt.after, err)
			}
		})
	}

	t.Run("RetryAfterHTTPDate", func(t *testing.T) {
		at := time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat)
		f.set(&fault{status: 503, header: http.Header{"Retry-After": {at}}})
		defer f.set(nil)
		err := c.Push(ctx, Delivery("date"))
		if d, ok := crmerr.RetryAfter(err); !ok || d < time.Minute || d > 2*time.Minute {
			t.Errorf("RetryAfter = %v, %v for an HTTP date 2 minutes ahead", d, ok)
		}
	})

	t.Run("NetworkErrorRetryable", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		url := dead.URL
		dead.Close()
		c2 := h.New(t, url, log)
		err := c2.Push(ctx, Delivery("net"))
		if err == nil || !crmerr.IsRetryable(err) {
			t.Fatalf("push to a closed port: %v, want a retryable error", err)
		}
		errs = append(errs, err)
	})

	// The optional parts make requests of their own: their errors must
	// not leak either.
	t.Run("OptionalPartsUnderFaults", func(t *testing.T) {
		// A first request authenticates, so a token is on the wire.
		if err := c.Push(ctx, Delivery("warm-up")); err != nil {
			t.Fatal(err)
		}
		f.set(&fault{status: 500, echo: true})
		defer f.set(nil)
		if bp, ok := c.(crmsync.BatchPusher); ok {
			results := bp.PushBatch(ctx, Deliveries([]bridge.Activity{Activity("batch-1"), Activity("batch-2")}))
			if len(results) != 2 {
				t.Fatalf("PushBatch answered %d results for 2", len(results))
			}
			for _, err := range results {
				if err == nil || crmerr.IsPermanent(err) {
					t.Errorf("PushBatch against a 500: %v, want retryable", err)
				}
				if err != nil {
					errs = append(errs, err)
				}
			}
		}
		if src, ok := c.(phoneindex.Source); ok {
			for _, e := range h.Entities {
				err := src.Records(ctx, e, time.Time{}, func([]phoneindex.Record) error { return nil })
				if err == nil {
					t.Errorf("Records(%s) succeeded against a 500", e.Name)
					continue
				}
				errs = append(errs, err)
			}
		}
		if us, ok := c.(crmsync.UserSyncer); ok {
			if _, err := us.SyncUsers(ctx, []bridge.User{{Extension: "101", Email: "alice@example.com"}}); err == nil {
				t.Error("SyncUsers succeeded against a 500")
			} else {
				errs = append(errs, err)
			}
		}
	})

	t.Run("Idempotent", func(t *testing.T) {
		a := Activity("idem-1")
		for range 3 {
			if err := c.Push(ctx, crmsync.Delivery{Activity: a}); err != nil {
				t.Fatal(err)
			}
		}
		if n := h.Count(a.ID); n != 1 {
			t.Fatalf("after three pushes the CRM holds %d copies", n)
		}
		if n := h.Count("fault-0"); n != 0 {
			t.Fatalf("a refused push left %d copies", n)
		}
	})

	runUpdates(t, h, c, f, &errs)
	runCallbacks(t, h, c, f, &errs)

	t.Run("NoSecretLeaks", func(t *testing.T) {
		out := logs.String()
		// The configured secrets, and every credential the connector put on
		// the wire (tokens it obtained, API keys): the echoing faults sent
		// them all back.
		for _, s := range append(append([]string{}, h.Secrets...), f.seen()...) {
			if s == "" {
				continue
			}
			for _, err := range errs {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error leaks a secret: %v", err)
				}
			}
			if strings.Contains(out, s) {
				t.Errorf("log leaks a secret: %s", out)
			}
		}
		if len(errs) == 0 {
			t.Error("no errors were collected")
		}
	})
}
