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

// deliverer runs the real delivery path (policy, embedded store, a
// connector, workers) to a local CRM, in a temporary state directory: the
// demo webhook receiver, or a preset's strict fake.
type deliverer struct {
	crm      *crm    // the webhook receiver, or nil
	preset   *preset // the CRM fake, or nil
	srv      *httptest.Server
	dir      string
	d        *app.Delivery
	accepted *enqueued // what the policy accepted, in order
	cancel   context.CancelFunc
	done     chan struct{}
}

func startDelivery(log zerolog.Logger, crmName string) (*deliverer, error) {
	dl := &deliverer{cancel: func() {}}
	cfg := config.Default()
	cfg.Delivery.BackoffMin, cfg.Delivery.BackoffMax, cfg.Delivery.PollInterval = 50*time.Millisecond, time.Second, 50*time.Millisecond
	if crmName == "" || crmName == "webhook" {
		secret := "demo-signing-secret"
		dl.crm = &crm{secret: []byte(secret), seen: map[string]bool{}}
		dl.srv = httptest.NewServer(dl.crm)
		cfg.CRM = []connectors.ConnectorConfig{{Name: "demo-crm", Type: "webhook",
			Settings: &webhook.Config{URL: dl.srv.URL, Secret: webhook.Secret(secret)}}}
	} else {
		p, err := newPreset(crmName)
		if err != nil {
			return nil, err
		}
		dl.preset, dl.srv = p, p.srv
		cfg.CRM = []connectors.ConnectorConfig{p.cfg}
		// The CRM maps the users by e-mail; the template codes reach it.
		cfg.DefaultRegion = "FI"
		cfg.Users = []config.User{{Extension: "101", Name: "Alice", Email: "alice@example.com"},
			{Extension: "102", Name: "Bob", Email: "bob@example.com"}, {Extension: "103", Name: "Carol"}}
		cfg.Policy.Defaults.Templates = crmsync.Templates{Incoming: "PHONE-IN", Outgoing: "PHONE-OUT",
			MissedIncoming: "PHONE-MISSED", UnacceptedOutgoing: "PHONE-NOANSWER"}
	}
	dir, err := os.MkdirTemp("", "callbridge-demo-")
	if err != nil {
		dl.srv.Close()
		return nil, err
	}
	dl.dir = dir
	cfg.StateDir = dir
	d, err := app.OpenDelivery(cfg, log, nil)
	if err != nil {
		dl.srv.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	dl.d = d
	return dl, nil
}

// parts are the path's stages beyond the sink, with the queue noting what
// the policy accepted.
func (dl *deliverer) parts() *pipeline.CRM {
	c := dl.d.Parts()
	dl.accepted = &enqueued{Store: c.Store}
	c.Store = dl.accepted
	return c
}

// start runs the delivery workers of p, and what keeps the phone index
// synced and the users mapped. A preset's CRM users are read and its
// caller's record is in the phone index before it returns, so the
// activities are owned by their users and land on the caller's timeline.
func (dl *deliverer) start(ctx context.Context, p *pipeline.Path) {
	rctx, cancel := context.WithCancel(ctx)
	dl.cancel, dl.done = cancel, make(chan struct{})
	if dl.preset != nil {
		dl.d.SyncUsers(rctx)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.RunDelivery(rctx) }()
	go func() { defer wg.Done(); _ = dl.d.Run(rctx) }()
	go func() { wg.Wait(); close(dl.done) }()
	if dl.preset != nil {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if in := dl.d.Recognizers.Get(dl.preset.cfg.Name); in != nil && in.Status().Records > 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
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

// arrived is how many accepted activities the CRM holds.
func (dl *deliverer) arrived() int {
	if dl.crm != nil {
		return dl.crm.count()
	}
	n := 0
	for _, id := range dl.accepted.ids() {
		if dl.preset.record(id) != nil {
			n++
		}
	}
	return n
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
	for (open > 0 || int64(dl.arrived()) < accepted) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		accepted, open = dl.pending()
	}
	if dl.preset != nil {
		dl.finishPreset(w, accepted)
		dl.stop()
		return
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

// finishPreset shows what the CRM fake holds for each accepted activity.
func (dl *deliverer) finishPreset(w io.Writer, accepted int64) {
	p := dl.preset
	fmt.Fprintf(w, "\nDelivered through the durable queue to the %s connector and its strict fake (%s):\n", p.cfg.Type, dl.srv.URL)
	n := 0
	for _, id := range dl.accepted.ids() {
		r := p.record(id)
		if r == nil {
			fmt.Fprintf(w, "  ✗ %s: not in the CRM\n", id)
			continue
		}
		n++
		fmt.Fprintf(w, "  ✓ %s\n", p.line(r))
	}
	fmt.Fprintf(w, "%d of %d activities accepted by the policy are in the CRM.\n", n, accepted)
}

// enqueued is the queue, noting the id of each activity it takes in.
type enqueued struct {
	crmsync.Store
	mu   sync.Mutex
	seen []string
}

func (e *enqueued) Enqueue(ctx context.Context, connector string, a bridge.Activity) (bool, error) {
	added, err := e.Store.Enqueue(ctx, connector, a)
	if added {
		e.mu.Lock()
		e.seen = append(e.seen, a.ID)
		e.mu.Unlock()
	}
	return added, err
}

func (e *enqueued) ids() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seen...)
}
