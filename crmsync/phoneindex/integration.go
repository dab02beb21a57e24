package phoneindex

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/internal/promreg"
)

// Source reads records from a CRM. It is the only part of recognition that
// talks to the CRM, and only Sync calls it.
type Source interface {
	// Records calls fn with successive pages of e's records modified at
	// or after since (all records when since is zero). Records seen
	// before may come again. An error from fn stops the listing and is
	// returned.
	Records(ctx context.Context, e Entity, since time.Time, fn func([]Record) error) error
}

// Settings are an integration's configuration, persisted with its cache.
type Settings struct {
	Entities []Entity `yaml:"entities" json:"entities"`
	// Region is the default region for national-form numbers ("FI").
	Region string `yaml:"region" json:"region"`
	// TailDigits: see Options. 0 means DefaultTailDigits.
	TailDigits int `yaml:"tail_digits" json:"tail_digits"`
	// Interval between incremental syncs. Default 15m.
	Interval time.Duration `yaml:"interval" json:"interval"`
	// FullInterval between full syncs, which also drop deleted records
	// (an incremental sync cannot see deletions). Default 24h.
	FullInterval time.Duration `yaml:"full_interval" json:"full_interval"`
	// Enabled: lookups answer. A disabled integration keeps its data.
	Enabled bool `yaml:"enabled" json:"enabled"`
}

// Defaults for Settings.
const (
	DefaultInterval     = 15 * time.Minute
	DefaultFullInterval = 24 * time.Hour
)

func (s Settings) withDefaults() Settings {
	if len(s.Entities) == 0 {
		s.Entities = DefaultEntities()
	}
	if s.TailDigits == 0 {
		s.TailDigits = DefaultTailDigits
	}
	if s.Interval == 0 {
		s.Interval = DefaultInterval
	}
	if s.FullInterval == 0 {
		s.FullInterval = DefaultFullInterval
	}
	return s
}

// Validate returns every problem, naming keys.
func (s Settings) Validate() error {
	s = s.withDefaults()
	var errs []error
	if _, err := NewIndex(s.Entities, Options{Region: s.Region, TailDigits: s.TailDigits}); err != nil {
		errs = append(errs, err)
	}
	if s.Interval < time.Minute {
		errs = append(errs, errors.New("interval: at least 1m"))
	}
	if s.FullInterval < s.Interval {
		errs = append(errs, errors.New("full_interval: at least interval"))
	}
	return errors.Join(errs...)
}

// State is what an integration remembers about its syncs.
type State struct {
	LastRefresh time.Time `json:"last_refresh"` // end of the last successful sync
	LastFull    time.Time `json:"last_full"`    // end of the last successful full sync
	NextSync    time.Time `json:"next_sync"`
	// Watermark per entity: the newest modifiedon seen, where the next
	// incremental sync starts.
	Watermark map[string]time.Time `json:"watermark,omitempty"`
	LastError string               `json:"last_error,omitempty"`
}

// Snapshot is everything persisted for one integration.
type Snapshot struct {
	Settings Settings       `json:"settings"`
	State    State          `json:"state"`
	Records  []storedRecord `json:"records"`
	// Fields are the records' Entity.Fields values (fields.go).
	Fields []storedFields `json:"fields,omitempty"`
}

// Persister keeps snapshots. Implementations: FileStore; the delivery
// store may hold them too.
type Persister interface {
	// Load returns the snapshot saved under name, or nil and no error
	// when there is none.
	Load(ctx context.Context, name string) (*Snapshot, error)
	Save(ctx context.Context, name string, s *Snapshot) error
	Delete(ctx context.Context, name string) error
}

// Status reports an integration.
type Status struct {
	Name        string    `json:"name"`
	Enabled     bool      `json:"enabled"`
	Records     int       `json:"records"`
	Numbers     int       `json:"numbers"`
	LastRefresh time.Time `json:"last_refresh"`
	LastFull    time.Time `json:"last_full"`
	NextSync    time.Time `json:"next_sync"`
	Syncing     bool      `json:"syncing"`
	LastError   string    `json:"last_error,omitempty"`
}

// ErrDeleted is returned by operations on a deleted integration.
var ErrDeleted = errors.New("integration deleted")

// IntegrationOptions are the daemon's parts an integration uses.
type IntegrationOptions struct {
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // may be nil
	Now        func() time.Time      // tests
}

// Integration is one CRM's caller recognition: its index, settings and
// sync state. It is safe for concurrent use; lookups never wait for a sync
// to finish, only for the moment its results are swapped in.
type Integration struct {
	name  string
	src   Source
	store Persister
	log   zerolog.Logger
	now   func() time.Time
	m     *metrics

	syncMu sync.Mutex // one sync at a time

	mu       sync.RWMutex
	settings Settings
	state    State
	ix       *Index
	syncing  bool
	deleted  bool
}

// Open loads the integration called name from store, or creates it with
// settings when none is stored. settings.Enabled is only the starting value:
// once stored, Enable and Disable decide. When the entities, region or tail
// digits differ from the stored ones, the stored cache is dropped and the
// next sync is a full one.
func Open(ctx context.Context, name string, src Source, store Persister, settings Settings, opts IntegrationOptions) (*Integration, error) {
	if !identifier(name) {
		return nil, fmt.Errorf("phoneindex: integration name %q: want letters, digits and _", name)
	}
	if src == nil || store == nil {
		return nil, errors.New("phoneindex: source and store are required")
	}
	if err := settings.Validate(); err != nil {
		return nil, err
	}
	in := &Integration{name: name, src: src, store: store, log: opts.Logger.With().Str("connector", name).Logger(), now: opts.Now}
	if in.now == nil {
		in.now = time.Now
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	in.m = m
	settings = settings.withDefaults()
	snap, err := store.Load(ctx, name)
	switch {
	case errors.Is(err, ErrCorrupt):
		// The cache is only a copy of the CRM: start empty and resync.
		in.m.corrupt.Inc()
		in.log.Warn().Err(err).Msg("caller recognition cache unreadable, starting empty")
		snap = nil
	case err != nil:
		return nil, fmt.Errorf("phoneindex %s: load: %w", name, err)
	}
	if snap != nil {
		// Enable and Disable are operations: what they last said wins
		// over the configured starting value.
		settings.Enabled = snap.Settings.Enabled
		if !sameShape(settings, snap.Settings.withDefaults()) {
			// Keys computed for other entities, region or digits are
			// wrong now: drop them and sync in full.
			in.log.Info().Msg("caller recognition settings changed, cache dropped")
			snap.Records, snap.State = nil, State{}
		}
	}
	ix, err := NewIndex(settings.Entities, Options{Region: settings.Region, TailDigits: settings.TailDigits})
	if err != nil {
		return nil, err
	}
	in.settings, in.ix = settings, ix
	if snap != nil {
		ix.restore(snap.Records)
		ix.restoreFields(snap.Fields)
		in.state = snap.State
	}
	in.publish()
	return in, nil
}

// Name is the integration's name.
func (in *Integration) Name() string { return in.name }

// Lookup finds the records holding number. It answers from memory only; a
// disabled or deleted integration matches nothing.
func (in *Integration) Lookup(number string) (Match, bool) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if !in.settings.Enabled || in.deleted {
		return Match{}, false
	}
	m, ok := in.ix.Lookup(number)
	in.m.lookups.WithLabelValues(in.name, hit(ok)).Inc()
	return m, ok
}

// LookupE164 is Lookup for a number already in E.164 form.
func (in *Integration) LookupE164(e164 string) (Match, bool) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if !in.settings.Enabled || in.deleted {
		return Match{}, false
	}
	m, ok := in.ix.LookupE164(e164)
	in.m.lookups.WithLabelValues(in.name, hit(ok)).Inc()
	return m, ok
}

func hit(ok bool) string {
	if ok {
		return "hit"
	}
	return "miss"
}

// Status reports the integration.
func (in *Integration) Status() Status {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return Status{
		Name: in.name, Enabled: in.settings.Enabled && !in.deleted,
		Records: in.ix.Records(), Numbers: in.ix.Numbers(),
		LastRefresh: in.state.LastRefresh, LastFull: in.state.LastFull, NextSync: in.state.NextSync,
		Syncing: in.syncing, LastError: in.state.LastError,
	}
}

// Enable lets lookups answer again and persists the setting.
func (in *Integration) Enable(ctx context.Context) error { return in.setEnabled(ctx, true) }

// Disable suppresses matches; the cache and settings are kept, and syncs
// are skipped until Enable.
func (in *Integration) Disable(ctx context.Context) error { return in.setEnabled(ctx, false) }

func (in *Integration) setEnabled(ctx context.Context, on bool) error {
	in.syncMu.Lock()
	defer in.syncMu.Unlock()
	in.mu.Lock()
	if in.deleted {
		in.mu.Unlock()
		return ErrDeleted
	}
	in.settings.Enabled = on
	in.mu.Unlock()
	in.publish()
	return in.save(ctx)
}

// Delete erases the cache and the settings, here and in the store. The
// integration answers nothing afterwards.
func (in *Integration) Delete(ctx context.Context) error {
	in.syncMu.Lock()
	defer in.syncMu.Unlock()
	in.mu.Lock()
	in.deleted = true
	in.settings.Enabled = false
	in.ix, _ = NewIndex(in.settings.Entities, Options{Region: in.settings.Region, TailDigits: in.settings.TailDigits})
	in.state = State{}
	in.mu.Unlock()
	in.publish()
	if err := in.store.Delete(ctx, in.name); err != nil {
		return fmt.Errorf("phoneindex %s: delete: %w", in.name, err)
	}
	return nil
}

// Sync reads the CRM: every record when full (or when there was never a
// full sync), else the records modified since the last sync. The new data
// is persisted before Sync returns.
func (in *Integration) Sync(ctx context.Context, full bool) error {
	in.syncMu.Lock()
	defer in.syncMu.Unlock()
	in.mu.Lock()
	if in.deleted {
		in.mu.Unlock()
		return ErrDeleted
	}
	settings, state := in.settings, in.state
	in.syncing = true
	in.mu.Unlock()
	defer func() { in.mu.Lock(); in.syncing = false; in.mu.Unlock() }()

	full = full || state.LastFull.IsZero()
	kind := "incremental"
	if full {
		kind = "full"
	}
	start := in.now()
	var n int
	var err error
	if full {
		n, err = in.syncFull(ctx, settings)
	} else {
		n, err = in.syncIncremental(ctx, settings, state)
	}
	in.m.syncSeconds.WithLabelValues(in.name, kind).Observe(in.now().Sub(start).Seconds())
	end := in.now()
	in.mu.Lock()
	if err != nil {
		in.state.LastError = err.Error()
		in.state.NextSync = end.Add(retryDelay(settings.Interval))
		in.mu.Unlock()
		in.m.syncs.WithLabelValues(in.name, kind, "error").Inc()
		in.log.Warn().Str("kind", kind).Err(err).Msg("caller recognition sync failed")
		return fmt.Errorf("phoneindex %s: %s sync: %w", in.name, kind, err)
	}
	in.state.LastError = ""
	in.state.LastRefresh = end
	if full {
		in.state.LastFull = end
	}
	in.state.NextSync = end.Add(settings.Interval)
	in.mu.Unlock()
	in.m.syncs.WithLabelValues(in.name, kind, "ok").Inc()
	in.publish()
	in.log.Info().Str("kind", kind).Int("records", n).Msg("caller recognition synced")
	return in.save(ctx)
}

// syncFull builds a new index off to the side and swaps it in whole, so
// lookups keep answering from the old one meanwhile and deleted records
// disappear.
func (in *Integration) syncFull(ctx context.Context, s Settings) (int, error) {
	ix, err := NewIndex(s.Entities, Options{Region: s.Region, TailDigits: s.TailDigits})
	if err != nil {
		return 0, err
	}
	marks := map[string]time.Time{}
	n := 0
	for _, e := range s.Entities {
		err := in.src.Records(ctx, e, time.Time{}, func(page []Record) error {
			for _, r := range page {
				r.Entity = e.Name
				ix.Put(r)
				if r.Modified.After(marks[e.Name]) {
					marks[e.Name] = r.Modified
				}
			}
			n += len(page)
			return ctx.Err()
		})
		if err != nil {
			return n, fmt.Errorf("%s: %w", e.EntitySet, err)
		}
	}
	in.mu.Lock()
	in.ix = ix
	in.state.Watermark = marks
	in.mu.Unlock()
	return n, nil
}

// syncIncremental applies changed records page by page under the write
// lock; pages are small and lookups wait at most for one page.
func (in *Integration) syncIncremental(ctx context.Context, s Settings, st State) (int, error) {
	n := 0
	for _, e := range s.Entities {
		mark := st.Watermark[e.Name]
		err := in.src.Records(ctx, e, mark, func(page []Record) error {
			in.mu.Lock()
			for _, r := range page {
				r.Entity = e.Name
				in.ix.Put(r)
				if r.Modified.After(mark) {
					mark = r.Modified
				}
			}
			if in.state.Watermark == nil {
				in.state.Watermark = map[string]time.Time{}
			}
			in.state.Watermark[e.Name] = mark
			in.mu.Unlock()
			n += len(page)
			return ctx.Err()
		})
		if err != nil {
			return n, fmt.Errorf("%s: %w", e.EntitySet, err)
		}
	}
	return n, nil
}

func sameShape(a, b Settings) bool {
	return a.Region == b.Region && a.TailDigits == b.TailDigits && reflect.DeepEqual(a.Entities, b.Entities)
}

func retryDelay(interval time.Duration) time.Duration {
	return min(interval, time.Minute+rand.N(time.Minute))
}

func (in *Integration) save(ctx context.Context) error {
	in.mu.RLock()
	snap := &Snapshot{Settings: in.settings, State: in.state, Records: in.ix.dump(), Fields: in.ix.dumpFields()}
	in.mu.RUnlock()
	if err := in.store.Save(ctx, in.name, snap); err != nil {
		return fmt.Errorf("phoneindex %s: save: %w", in.name, err)
	}
	return nil
}

func (in *Integration) publish() {
	st := in.Status()
	in.m.numbers.WithLabelValues(in.name).Set(float64(st.Numbers))
	v := 0.0
	if st.Enabled {
		v = 1
	}
	in.m.enabled.WithLabelValues(in.name).Set(v)
	if !st.LastRefresh.IsZero() {
		in.m.lastRefresh.WithLabelValues(in.name).Set(float64(st.LastRefresh.Unix()))
	}
}

// Run syncs on schedule until ctx ends: incrementally every Interval, in
// full every FullInterval, skipping while disabled. A failed sync is
// retried sooner. It returns nil when ctx ends and ErrDeleted once the
// integration is deleted.
func (in *Integration) Run(ctx context.Context) error {
	for {
		in.mu.RLock()
		deleted, enabled := in.deleted, in.settings.Enabled
		next, lastFull, fullEvery := in.state.NextSync, in.state.LastFull, in.settings.FullInterval
		in.mu.RUnlock()
		if deleted {
			return ErrDeleted
		}
		wait := next.Sub(in.now())
		if !enabled {
			wait = time.Minute // look again for Enable
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			if !enabled {
				continue
			}
		}
		full := lastFull.IsZero() || in.now().Sub(lastFull) >= fullEvery
		if err := in.Sync(ctx, full); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, ErrDeleted) {
				return ErrDeleted
			}
		}
	}
}

type metrics struct {
	corrupt     prometheus.Counter
	lookups     *prometheus.CounterVec
	syncs       *prometheus.CounterVec
	syncSeconds *prometheus.HistogramVec
	numbers     *prometheus.GaugeVec
	enabled     *prometheus.GaugeVec
	lastRefresh *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callbridge_phoneindex_corrupt_snapshots_total",
			Help: "Persisted caller recognition caches that could not be read and were dropped.",
		}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_phoneindex_lookups_total",
			Help: "Caller recognition lookups by integration and result (hit, miss).",
		}, []string{"integration", "result"}),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_phoneindex_syncs_total",
			Help: "Caller recognition syncs by integration, kind (full, incremental) and result (ok, error).",
		}, []string{"integration", "kind", "result"}),
		syncSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callbridge_phoneindex_sync_duration_seconds",
			Help:    "Time a caller recognition sync took.",
			Buckets: prometheus.ExponentialBuckets(0.1, 4, 8),
		}, []string{"integration", "kind"}),
		numbers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "callbridge_phoneindex_numbers",
			Help: "Numbers held in the caller recognition index.",
		}, []string{"integration"}),
		enabled: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "callbridge_phoneindex_enabled",
			Help: "1 when the integration's lookups answer.",
		}, []string{"integration"}),
		lastRefresh: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "callbridge_phoneindex_last_refresh_timestamp_seconds",
			Help: "When the integration last synced successfully (Unix time).",
		}, []string{"integration"}),
	}
	// Several integrations share the collectors.
	for _, err := range []error{
		promreg.Share(reg, &m.corrupt),
		promreg.Share(reg, &m.lookups, &m.syncs),
		promreg.Share(reg, &m.syncSeconds),
		promreg.Share(reg, &m.numbers, &m.enabled, &m.lastRefresh),
	} {
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}
