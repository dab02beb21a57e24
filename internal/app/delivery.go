package app

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/connectors"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/crmsync/store/bolt"
	"github.com/callbridge/callbridge/crmsync/store/redis"
	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/pipeline"
)

// QueueDir is where the embedded store lives under state_dir.
const QueueDir = "queue"

// OpenStore opens the configured store. The embedded one takes a file lock:
// a second process (a queue command while the daemon runs) waits for it a
// few seconds and then fails saying so.
func OpenStore(ctx context.Context, cfg *config.Config) (crmsync.Store, error) {
	switch cfg.Store.Type {
	case config.StoreRedis:
		s, err := redis.Open(ctx, cfg.Store.RedisURL.Value(), redis.Options{Prefix: cfg.Store.RedisPrefix,
			WaitReplicas: cfg.Store.WaitReplicas, WaitTimeout: cfg.Store.WaitTimeout})
		if err != nil {
			return nil, fmt.Errorf("store (redis): %w", err)
		}
		return s, nil
	default:
		dir := filepath.Join(cfg.StateDir, QueueDir)
		s, err := bolt.Open(dir, bolt.Options{})
		if err != nil {
			return nil, fmt.Errorf("store (embedded, %s): %w (is callbridge running? the embedded store is one process's: queue commands reach it through the daemon's API on http.listen)", dir, err)
		}
		return s, nil
	}
}

// Delivery is the configured way to the CRMs beyond the sink: the store,
// the policy, the connectors and their phone indexes. The path's policy,
// queue and delivery stages run on it (Parts); Run keeps the phone indexes
// and the user mappings fresh.
type Delivery struct {
	cfg    *config.Config
	store  crmsync.Store
	policy *crmsync.Policy
	conns  []crmsync.Connector
	log    zerolog.Logger
	// states are the connectors' last push outcomes (readiness).
	states *crmsync.PushStates
	// Recognizers are the CRMs' phone indexes, for the lookup API.
	Recognizers *phoneindex.Set
	// owners maps CRM record owners to users, for routing.
	owners *owners
	// wrapups and callbacks queue dispositions and callback requests.
	wrapups      *crmsync.Wrapups
	dispositions dispositions
	callbacks    *crmsync.Callbacks
}

// UserSyncInterval is how often CRM users are matched to PBX users again.
const UserSyncInterval = time.Hour

// OpenDelivery opens the store and builds the policy, the connectors and
// their phone indexes. On error nothing stays open.
func OpenDelivery(cfg *config.Config, log zerolog.Logger, reg prometheus.Registerer) (d *Delivery, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	store, err := OpenStore(ctx, cfg)
	cancel()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			store.Close()
		}
	}()
	if d, err = buildDelivery(cfg, store, log, reg); err != nil {
		return nil, err
	}
	if reg != nil {
		if err := reg.Register(crmsync.NewQueueCollector(store)); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// buildDelivery builds the policy, the connectors and their phone indexes
// over an open store: at start, and again on a reload (the store stays).
func buildDelivery(cfg *config.Config, store crmsync.Store, log zerolog.Logger, reg prometheus.Registerer) (*Delivery, error) {
	p, err := crmsync.NewPolicy(policyConfig(cfg), store, reg)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p.SetDirectory(cfg.EngineConfig().Users, nil)
	recs := &phoneindex.Set{}
	conns, err := connectors.Build(cfg.CRM, connectors.Deps{Logger: log, Registerer: reg}, recs)
	if err != nil {
		return nil, err
	}
	if err := openIndexes(cfg, conns, recs, log, reg); err != nil {
		return nil, err
	}
	d := &Delivery{cfg: cfg, store: store, policy: p, conns: conns, log: log, states: &crmsync.PushStates{}, Recognizers: recs}
	if d.wrapups, err = crmsync.NewWrapups(cfg.Wrapup, store, cfg.PBXID, conns); err != nil {
		return nil, fmt.Errorf("wrapup: %w", err)
	}
	if d.callbacks, err = crmsync.NewCallbacks(cfg.Callbacks, store, conns); err != nil {
		return nil, fmt.Errorf("callbacks: %w", err)
	}
	d.callbacks.Normalize = cfg.Normalizer().Normalize
	d.dispositions = newDispositions(d.wrapups, cfg.EngineConfig().Users)
	explicit := map[string]string{}
	for ext, s := range policyConfig(cfg).Users {
		if s.CRMUser != "" {
			explicit[ext] = s.CRMUser
		}
	}
	d.owners = newOwners(explicit)
	d.owners.refresh(conns)
	return d, nil
}

// policyConfig is the policy section with the user directory's CRM ids and
// e-mails filled in, unless the policy section says otherwise for a user.
func policyConfig(cfg *config.Config) crmsync.PolicyConfig {
	pc := cfg.Policy
	users := map[string]crmsync.UserSettings{}
	for ext, s := range pc.Users {
		users[ext] = s
	}
	for _, u := range cfg.Users {
		s := users[u.Extension]
		if s.CRMUser == "" {
			s.CRMUser = u.CRMUserID
		}
		if s.Email == "" {
			s.Email = u.Email
		}
		if s != (crmsync.UserSettings{}) || users[u.Extension] != (crmsync.UserSettings{}) {
			users[u.Extension] = s
		}
	}
	pc.Users = users
	return pc
}

// openIndexes opens the phone index of every connector with recognition
// on. Each syncs from its connector and answers lookups from memory; until
// its first sync it answers from the copy kept under state_dir.
func openIndexes(cfg *config.Config, conns []crmsync.Connector, recs *phoneindex.Set, log zerolog.Logger, reg prometheus.Registerer) error {
	for i, cc := range cfg.CRM {
		settings, on := cc.RecognitionSettings()
		if !on {
			continue
		}
		src, ok := conns[i].(phoneindex.Source)
		if !ok {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		in, err := phoneindex.Open(ctx, conns[i].Name(), src, phoneindex.FileStore{Dir: filepath.Join(cfg.StateDir, "phoneindex")},
			settings, phoneindex.IntegrationOptions{Logger: log, Registerer: reg})
		cancel()
		if err != nil {
			return fmt.Errorf("crm[%d].recognition: %w", i, err)
		}
		recs.Set(conns[i].Name(), in)
	}
	return nil
}

// Parts are the path's stages beyond the sink: the policy, the queue and
// the delivery workers run on these.
func (d *Delivery) Parts() *pipeline.CRM {
	return &pipeline.CRM{Policy: d.policy, Store: d.store, Connectors: d.conns, Delivery: d.cfg.Delivery, PushStates: d.states, Wrapups: d.wrapups}
}

// Store is the delivery queue.
func (d *Delivery) Store() crmsync.Store { return d.store }

// Close closes the store.
func (d *Delivery) Close() error { return d.store.Close() }

// Run keeps the phone indexes synced and the users mapped until ctx is
// done.
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
	wg.Wait()
	return nil
}

// SyncUsers maps the directory's users to CRM users on every connector
// that can, and reports who is unmapped. It implements api.Users.
func (d *Delivery) SyncUsers(ctx context.Context) []api.UserSync {
	var out []api.UserSync
	// Each user is mapped by the e-mail the policy gives them
	// (policy.users.<ext>.email, else users[].email, else
	// policy.defaults.email).
	users := d.cfg.EngineConfig().Users
	for i := range users {
		users[i].Email = d.policy.EmailOf(users[i].Extension)
	}
	for _, c := range d.conns {
		us, ok := c.(crmsync.UserSyncer)
		if !ok {
			continue
		}
		rep, err := us.SyncUsers(ctx, users)
		r := api.UserSync{Connector: c.Name(), Report: rep}
		if err != nil {
			r.Error = err.Error()
			d.log.Warn().Err(err).Str("connector", c.Name()).Msg("user sync failed")
		} else if len(rep.Unmapped) > 0 {
			d.log.Info().Str("connector", c.Name()).Int("unmapped", len(rep.Unmapped)).Msg("users without a CRM user: their activities go to the default owner")
		}
		out = append(out, r)
	}
	d.owners.refresh(d.conns) // the mappings just learnt route callers to their owners
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
