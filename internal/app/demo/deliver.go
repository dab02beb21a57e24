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
	"github.com/callbridge/callbridge/crmsync/connectors"
	"github.com/callbridge/callbridge/crmsync/webhook"
	"github.com/callbridge/callbridge/internal/app"
	"github.com/callbridge/callbridge/internal/pipeline"
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
	crm    *crm
	srv    *httptest.Server
	dir    string
	d      *app.Delivery
	cancel context.CancelFunc
	done   chan struct{}
}

func startDelivery(log zerolog.Logger) (*deliverer, error) {
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
	d, err := app.OpenDelivery(cfg, log, nil)
	if err != nil {
		srv.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	return &deliverer{crm: c, srv: srv, dir: dir, d: d, cancel: func() {}}, nil
}

// start runs the delivery workers of p.
func (dl *deliverer) start(ctx context.Context, p *pipeline.Path) {
	rctx, cancel := context.WithCancel(ctx)
	dl.cancel, dl.done = cancel, make(chan struct{})
	go func() {
		defer close(dl.done)
		p.RunDelivery(rctx)
	}()
}

// pending counts what the policy accepted and what is not settled yet.
func (dl *deliverer) pending() (accepted, open int64) {
	st, err := dl.d.Store().Stats(context.Background())
	if err != nil {
		return 0, 0
	}
	for _, s := range st {
		accepted += s.Ready + s.InFlight + s.Delayed + s.Dead + s.Delivered
		open += s.Ready + s.InFlight + s.Delayed
	}
	return accepted, open
}

// stop ends the workers and cleans up.
func (dl *deliverer) stop() {
	dl.cancel()
	if dl.done != nil {
		<-dl.done
	}
	dl.close()
}

func (dl *deliverer) close() {
	dl.d.Close()
	dl.srv.Close()
	os.RemoveAll(dl.dir)
}

// finish waits (a few seconds at most) for the CRM to have every accepted
// activity, stops the workers and cleans up.
func (dl *deliverer) finish(w io.Writer) {
	deadline := time.Now().Add(10 * time.Second)
	accepted, open := dl.pending()
	for (open > 0 || int64(dl.crm.count()) < accepted) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		accepted, open = dl.pending()
	}
	dl.stop()

	c := dl.crm
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(w, "\nDelivered through the durable queue to a local CRM webhook (%s), signature verified on receipt:\n", dl.srv.URL)
	for _, a := range c.got {
		fmt.Fprintf(w, "  ✓ %-3s %-8s %-10s %-18s %-14s id %s\n", a.User, a.Direction, a.State, a.Reason, a.RemoteNumber, a.ID)
	}
	fmt.Fprintf(w, "%d of %d activities accepted by the policy arrived, each once", len(c.got), accepted)
	if c.dups > 0 {
		fmt.Fprintf(w, " (%d repeats absorbed by the idempotency key)", c.dups)
	}
	if c.bad > 0 {
		fmt.Fprintf(w, "; %d requests had a bad signature", c.bad)
	}
	fmt.Fprintln(w, ".")
}
