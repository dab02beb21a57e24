package delivery

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/boltstore"
	"github.com/callbridge/callbridge/crmsync/redisstore"
)

// QueueDir is where the embedded store lives under state_dir.
const QueueDir = "queue"

// OpenStore opens the configured store. The embedded one takes a file lock:
// a second process (a queue command while the daemon runs) waits for it a
// few seconds and then fails saying so.
func OpenStore(ctx context.Context, cfg *config.Config) (crmsync.Store, error) {
	switch cfg.Store.Type {
	case config.StoreRedis:
		s, err := redisstore.Open(ctx, cfg.Store.RedisURL.Value(), redisstore.Options{Prefix: cfg.Store.RedisPrefix})
		if err != nil {
			return nil, fmt.Errorf("store (redis): %w", err)
		}
		return s, nil
	default:
		dir := filepath.Join(cfg.StateDir, QueueDir)
		s, err := boltstore.Open(dir, boltstore.Options{})
		if err != nil {
			return nil, fmt.Errorf("store (embedded, %s): %w (is callbridge running? the embedded store is one process's)", dir, err)
		}
		return s, nil
	}
}

// Delivery is the configured path to the CRMs.
type Delivery struct {
	store  crmsync.Store
	policy *crmsync.Policy
	conns  []crmsync.Connector
	names  []string
	disp   *crmsync.Dispatcher
	log    zerolog.Logger
}

// New builds policy, connectors and workers over store.
func New(cfg *config.Config, store crmsync.Store, log zerolog.Logger, reg prometheus.Registerer) (*Delivery, error) {
	pc := cfg.Policy
	// The user directory's CRM ids and e-mails are the policy's mapping
	// unless the policy section says otherwise for that user.
	if pc.Users == nil {
		pc.Users = map[string]crmsync.UserSettings{}
	}
	for _, u := range cfg.Users {
		s := pc.Users[u.Extension]
		if s.CRMUser == "" {
			s.CRMUser = u.CRMUserID
		}
		if s.Email == "" {
			s.Email = u.Email
		}
		if s != (crmsync.UserSettings{}) || pc.Users[u.Extension] != (crmsync.UserSettings{}) {
			pc.Users[u.Extension] = s
		}
	}
	p, err := crmsync.NewPolicy(pc, store, reg)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p.SetDirectory(cfg.EngineConfig().Users, nil)
	conns, err := crmsync.BuildConnectors(cfg.CRM, crmsync.Deps{Logger: log, Registerer: reg})
	if err != nil {
		return nil, err
	}
	disp, err := crmsync.NewDispatcher(store, conns, cfg.Delivery, crmsync.DispatcherOptions{Logger: log, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	if reg != nil {
		if err := reg.Register(crmsync.NewQueueCollector(store)); err != nil {
			return nil, err
		}
	}
	d := &Delivery{store: store, policy: p, conns: conns, disp: disp, log: log}
	for _, c := range conns {
		d.names = append(d.names, c.Name())
	}
	return d, nil
}

// Connectors names the configured connectors.
func (d *Delivery) Connectors() []string { return d.names }

// Submit puts a through the policy and into the queue of every connector.
// It does not give up while ctx lives: when the store is down (a Redis
// restart) intake waits rather than lose the activity; Submit is
// idempotent on the activity id, so retrying is safe.
func (d *Delivery) Submit(ctx context.Context, a bridge.Activity) (accepted bool, reason string, err error) {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		accepted, reason, err = crmsync.Submit(ctx, d.policy, d.store, d.names, a)
		if err == nil {
			return accepted, reason, nil
		}
		d.log.Warn().Err(err).Str("call_id", a.CallID).Str("user", a.User).Int("attempt", attempt).
			Msg("activity not queued yet, retrying")
		select {
		case <-ctx.Done():
			return false, "", fmt.Errorf("activity %s not queued: %w", a.ID, err)
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// Run runs the delivery workers until ctx is done, then lets in-flight
// pushes finish within delivery.drain_timeout.
func (d *Delivery) Run(ctx context.Context) error { return d.disp.Run(ctx) }
