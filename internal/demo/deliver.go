package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/connectors"
	"github.com/callbridge/callbridge/crmsync/webhook"
	"github.com/callbridge/callbridge/internal/delivery"
)

// crm is the demo's stand-in for a CRM: a local webhook endpoint that
// verifies every signature, as a real receiver should, and keeps what
// arrived in order.
type crm struct {
	secret []byte
	mu     sync.Mutex
	seen   map[string]bool
	got    []bridge.Activity
	dups   int
	bad    int
}

func (c *crm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := webhook.Verify(c.secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
		c.mu.Lock()
		c.bad++
		c.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var a bridge.Activity
	if err := json.Unmarshal(body, &a); err != nil {
		http.Error(w, "bad activity", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[a.ID] {
		c.dups++ // idempotency: a repeat is acknowledged, not stored
	} else {
		c.seen[a.ID] = true
		c.got = append(c.got, a)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *crm) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

// deliverer runs the real delivery path (policy, embedded store, webhook
// connector, workers) to the demo CRM, in a temporary state directory.
type deliverer struct {
	crm      *crm
	srv      *httptest.Server
	dir      string
	store    crmsync.Store
	d        *delivery.Delivery
	accepted int
	cancel   context.CancelFunc
	done     chan error
}

func startDelivery(ctx context.Context, log zerolog.Logger) (*deliverer, error) {
	secret := "demo-signing-secret"
	c := &crm{secret: []byte(secret), seen: map[string]bool{}}
	srv := httptest.NewServer(c)
	dir, err := os.MkdirTemp("", "callbridge-demo-")
	if err != nil {
		srv.Close()
		return nil, err
	}
	cfg := config.Default()
	cfg.StateDir = dir
	cfg.Delivery.BackoffMin, cfg.Delivery.BackoffMax, cfg.Delivery.PollInterval = 50*time.Millisecond, time.Second, 50*time.Millisecond
	cfg.CRM = []connectors.ConnectorConfig{{Name: "demo-crm", Type: "webhook",
		Settings: &webhook.Config{URL: srv.URL, Secret: webhook.Secret(secret)}}}
	st, err := delivery.OpenStore(ctx, cfg)
	if err != nil {
		srv.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	d, err := delivery.New(cfg, st, log, nil)
	if err != nil {
		st.Close()
		srv.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	dl := &deliverer{crm: c, srv: srv, dir: dir, store: st, d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { dl.done <- d.Run(rctx) }()
	return dl, nil
}

func (dl *deliverer) submit(ctx context.Context, a bridge.Activity) {
	if ok, _, err := dl.d.Submit(ctx, a); err == nil && ok {
		dl.accepted++
	}
}

// finish waits (a few seconds at most) for the CRM to have every accepted
// activity, stops the workers and cleans up.
func (dl *deliverer) finish(w io.Writer) {
	deadline := time.Now().Add(10 * time.Second)
	for dl.crm.count() < dl.accepted && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	dl.cancel()
	<-dl.done
	dl.store.Close()
	dl.srv.Close()
	os.RemoveAll(dl.dir)

	c := dl.crm
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(w, "\nDelivered through the durable queue to a local CRM webhook (%s), signature verified on receipt:\n", dl.srv.URL)
	for _, a := range c.got {
		fmt.Fprintf(w, "  ✓ %-3s %-8s %-10s %-18s %-14s id %s\n", a.User, a.Direction, a.State, a.Reason, a.RemoteNumber, a.ID)
	}
	fmt.Fprintf(w, "%d of %d activities accepted by the policy arrived, each once", len(c.got), dl.accepted)
	if c.dups > 0 {
		fmt.Fprintf(w, " (%d repeats absorbed by the idempotency key)", c.dups)
	}
	if c.bad > 0 {
		fmt.Fprintf(w, "; %d requests had a bad signature", c.bad)
	}
	fmt.Fprintln(w, ".")
}
