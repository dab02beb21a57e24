package delivery

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/connectors"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/crmsync/store/bolt"
	"github.com/callbridge/callbridge/crmsync/store/redis"
)

// QueueDir is where the embedded store lives under state_dir.
const QueueDir = "queue"

// OpenStore opens the configured store. The embedded one takes a file lock:
// a second process (a queue command while the daemon runs) waits for it a
// few seconds and then fails saying so.
func OpenStore(ctx context.Context, cfg *config.Config) (crmsync.Store, error) {
	switch cfg.Store.Type {
	case config.StoreRedis:
		s, err := redis.Open(ctx, cfg.Store.RedisURL.Value(), redis.Options{Prefix: cfg.Store.RedisPrefix})
		if err != nil {
			return nil, fmt.Errorf("store (redis): %w", err)
		}
		return s, nil
	default:
		dir := filepath.Join(cfg.StateDir, QueueDir)
		s, err := bolt.Open(dir, bolt.Options{})
		if err != nil {
			return nil, fmt.Errorf("store (embedded, %s): %w (is callbridge running? the embedded store is one process's)", dir, err)
		}
		return s, nil
	}
}

// Delivery is the configured path to the CRMs.
type Delivery struct {
	cfg    *config.Config
	store  crmsync.Store
	policy *crmsync.Policy
	conns  []crmsync.Connector
	names  []string
	disp   *crmsync.Dispatcher
	log    zerolog.Logger
	// Recognizers are the CRMs' phone indexes, for the lookup API.
	Recognizers *phoneindex.Set
}

// UserSyncInterval is how often CRM users are matched to PBX users again.
const UserSyncInterval = time.Hour

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
	recs := &phoneindex.Set{}
	conns, err := connectors.Build(cfg.CRM, connectors.Deps{Logger: log, Registerer: reg}, recs)
	if err != nil {
		return nil, err
	}
	// The policy decides whose activity it is and with which template;
	// each delivery carries that to its connector.
	disp, err := crmsync.NewDispatcher(store, conns, cfg.Delivery, crmsync.DispatcherOptions{Logger: log, Registerer: reg, Assign: crmsync.Assign{Assigner: p}})
	if err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	// Caller recognition: each index syncs from its connector and answers
	// lookups from memory; until its first sync it answers from the copy
	// kept under state_dir.
	for i, cc := range cfg.CRM {
		if cc.Recognition == nil {
			continue
		}
		src, ok := conns[i].(phoneindex.Source)
		if !ok {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		in, err := phoneindex.Open(ctx, conns[i].Name(), src, phoneindex.FileStore{Dir: filepath.Join(cfg.StateDir, "phoneindex")},
			*cc.Recognition, phoneindex.IntegrationOptions{Logger: log.With().Str("connector", conns[i].Name()).Logger(), Registerer: reg})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("crm[%d].recognition: %w", i, err)
		}
		recs.Set(conns[i].Name(), in)
	}
	if reg != nil {
		if err := reg.Register(crmsync.NewQueueCollector(store)); err != nil {
			return nil, err
		}
	}
	d := &Delivery{cfg: cfg, store: store, policy: p, conns: conns, disp: disp, log: log, Recognizers: recs}
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

// Run runs the delivery workers, the phone index syncs and the user syncs
// until ctx is done, then lets in-flight pushes finish within
// delivery.drain_timeout.
func (d *Delivery) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, in := range d.Recognizers.All() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := in.Run(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn().Err(err).Str("connector", in.Name()).Msg("caller recognition stopped")
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.syncUsersEvery(ctx, UserSyncInterval)
	}()
	err := d.disp.Run(ctx)
	wg.Wait()
	return err
}

// UserSync is one connector's user mapping result.
type UserSync struct {
	Connector string             `json:"connector"`
	Report    crmsync.UserReport `json:"report"`
	Error     string             `json:"error,omitempty"`
}

// SyncUsers maps the directory's users to CRM users on every connector
// that can, and reports who is unmapped.
func (d *Delivery) SyncUsers(ctx context.Context) []UserSync {
	var out []UserSync
	users := d.cfg.EngineConfig().Users
	for _, c := range d.conns {
		us, ok := c.(crmsync.UserSyncer)
		if !ok {
			continue
		}
		rep, err := us.SyncUsers(ctx, users)
		r := UserSync{Connector: c.Name(), Report: rep}
		if err != nil {
			r.Error = err.Error()
			d.log.Warn().Err(err).Str("connector", c.Name()).Msg("user sync failed")
		} else if len(rep.Unmapped) > 0 {
			d.log.Info().Str("connector", c.Name()).Int("unmapped", len(rep.Unmapped)).Msg("users without a CRM user: their activities go to the default owner")
		}
		out = append(out, r)
	}
	return out
}

func (d *Delivery) syncUsersEvery(ctx context.Context, every time.Duration) {
	for {
		d.SyncUsers(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
