package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/phone"
	"github.com/callbridge/callbridge/internal/pipeline/journal"
)

// Parts are what the path is built from (internal/app makes them from the
// configuration).
type Parts struct {
	// Sources are the configured adapters by name (ari, ami, sip).
	Sources map[string]Source
	// Engine configures every source's engine (Source is set per source).
	Engine     bridge.Config
	Normalizer phone.Normalizer
	// Sink receives every finished activity (sink.file).
	Sink Writer
	// CRM is the way on to the CRMs; nil when none is configured, and
	// activities stop at the sink.
	CRM *CRM
	// Live, if set, is told every transition with the name of the source
	// that saw it, for screen pops: the live ones (ringing, connected,
	// ended) and those that carry a finished activity (no State), which
	// end a leg that had no live end.
	Live func(source string, tr bridge.Transition)
	// History, if set, fills each source's gaps (gap.go): the calls it
	// did not see whole come from there.
	History    History
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // may be nil
}

// CRM are the parts of the path beyond the sink.
type CRM struct {
	Policy     *crmsync.Policy
	Store      crmsync.Store
	Connectors []crmsync.Connector
	Delivery   crmsync.DeliveryConfig
	// Wrapups queues activities that wait for their wrap-up open (nil:
	// every activity as it is).
	Wrapups *crmsync.Wrapups
	// Instance names this process among those sharing the store.
	Instance string
	// PushStates, if set, records each connector's last push outcome.
	PushStates *crmsync.PushStates
}

// Build lays out the path of an activity from the PBX to the CRMs. It is
// the one place that lists the stages, in order; each is a small type of
// its own file.
func Build(p Parts) (*Path, error) {
	m, err := newMetrics(p.Registerer)
	if err != nil {
		return nil, err
	}
	path := &Path{log: p.Logger, m: m, reg: p.Registerer, swapped: make(chan struct{})}

	// Per source, on its own goroutine, for each message from the PBX:
	names := make([]string, 0, len(p.Sources))
	for name := range p.Sources {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := &source{name: name, path: path, replaced: make(chan struct{}),
			events: m.events.WithLabelValues(name), calls: m.calls.WithLabelValues(name),
			byState: map[bridge.Outcome]prometheus.Counter{}}
		s.decode = p.Sources[name] // 1. decode: the PBX's messages to bridge.Events (decode.go)
		ec := p.Engine
		ec.Source = name
		s.engine = NewBatchEngine(ec, p.Normalizer, s.finished, s.liveFunc(p.Live)) // 2. engine: events to live transitions and finished activities (engine.go)
		if p.History != nil {
			s.gap = newGap(s, p.History, p.Logger.With().Str("source", name).Logger()) // 2a. gaps: calls not seen whole come from the PBX's history (gap.go)
			s.engine.watch = s.gap
			// The gap decides when the engine finishes an activity, not
			// at the batch's end, when it may no longer be holding.
			s.engine.keepBack = func(a bridge.Activity) bool {
				if !s.gap.hold(a) {
					return false
				}
				s.countActivity(&a)
				return true
			}
		}
		path.sources = append(path.sources, s)
	}

	// For each finished activity, still on the source's goroutine, so it
	// is kept before the next event is read:
	path.sink = Sink{To: p.Sink, Log: p.Logger, Errors: m.sinkErrors} // 3. sink: every activity, to sink.file (sink.go)
	path.intake = Stages{path.sink}
	if p.CRM == nil {
		return path, nil
	}
	if path.intake, path.dispatcher, err = path.crm(p.CRM); err != nil {
		return nil, err
	}
	return path, nil
}

// crm lays out the stages beyond the sink: the intake's and the delivery
// workers'.
func (p *Path) crm(c *CRM) (Stages, *crmsync.Dispatcher, error) {
	conns := make([]string, len(c.Connectors))
	for i, cn := range c.Connectors {
		conns[i] = cn.Name()
	}
	intake := Stages{p.sink, Admit{ // 4 and 5 in one store step for a batch (admit.go)
		Policy{Policy: c.Policy, Log: p.log},                                     // 4. policy: accept, or drop and count why (policy.go)
		Queue{Store: c.Store, Connectors: conns, Wrapups: c.Wrapups, Log: p.log}, // 5. queue: one durable job per connector, open when waiting for a wrap-up (queue.go)
	}}

	// In the delivery workers, for each job claimed from the queue:
	d, err := crmsync.NewDispatcher(c.Store, c.Connectors, c.Delivery, crmsync.DispatcherOptions{
		Logger: p.log, Registerer: p.reg, Instance: c.Instance,
		Assign: crmsync.Assign{Assigner: c.Policy},                                                                                       // 6. assign: owner, e-mail, template (crmsync/assign.go)
		Push:   crmsync.Push{Timeout: c.Delivery.PushTimeout},                                                                            // 7. connector: the CRM writes it (crmsync/push.go)
		Settle: crmsync.Settle{Store: c.Store, Backoff: c.Delivery.Backoff(), MaxAttempts: c.Delivery.MaxAttempts, States: c.PushStates}, // 8. settle: ack, retry or dead letter (crmsync/settle.go)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("delivery: %w", err)
	}
	return intake, d, nil
}

// Path is the built path. Restore it, then run its sources and its
// delivery workers; Close it after both have returned.
type Path struct {
	sources []*source
	sink    Sink
	// intake is read under a source's lock and replaced under all of
	// them (SetCRM).
	intake Stages
	log    zerolog.Logger
	m      *metrics
	reg    prometheus.Registerer

	dmu        sync.Mutex
	dispatcher *crmsync.Dispatcher // nil: no CRM
	swapped    chan struct{}       // closed when dispatcher is replaced
}

// source is one source's decode and engine stages.
type source struct {
	name   string
	path   *Path
	decode Source // replaced by ReplaceSource, under path.dmu
	// replaced is closed when decode is replaced.
	replaced chan struct{}
	engine   *Engine
	gap      *gap // nil: no History
	j        *journal.Journal
	// ctx is the intake's: Restore's, then RunSources'.
	ctx context.Context
	// mu lets Stats and Flush be called while the source runs.
	mu sync.Mutex

	// The source's own metric series, looked up once rather than per
	// event (prometheus hashes the labels at every WithLabelValues).
	// byState is filled as states come, where the engine runs: under mu,
	// or in Restore before the source runs.
	events  prometheus.Counter
	calls   prometheus.Gauge
	byState map[bridge.Outcome]prometheus.Counter
}

// countActivity counts a finished activity by its state.
func (s *source) countActivity(a *bridge.Activity) {
	c, ok := s.byState[a.State]
	if !ok {
		c = s.path.m.activities.WithLabelValues(s.name, string(a.State))
		s.byState[a.State] = c
	}
	c.Inc()
}

func (s *source) liveFunc(live func(string, bridge.Transition)) func(bridge.Transition) {
	if live == nil {
		return nil
	}
	return func(tr bridge.Transition) { live(s.name, tr) }
}

// finished hands the activities a batch of events finished to the intake
// stages.
func (s *source) finished(as []bridge.Activity) {
	for i := range as {
		s.countActivity(&as[i])
	}
	s.path.intake.HandleBatch(s.ctx, as)
}

func (s *source) handle(ev bridge.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events.Inc()
	s.engine.Handle(ev)
	st, _ := s.engine.Stats()
	s.calls.Set(float64(st.Calls))
}

// tick runs the source's gap filler's timer until ctx is done.
func (s *source) tick(ctx context.Context) {
	t := time.NewTicker(retryEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.gap.tick()
		}
	}
}

// Sources names the sources, sorted.
func (p *Path) Sources() []string {
	out := make([]string, len(p.sources))
	for i, s := range p.sources {
		out[i] = s.name
	}
	return out
}

// Restore rebuilds each source's calls in progress from its journal in
// dir, before any source connects, so that its first snapshot reconciles
// them. Activities the replay finishes go through the intake under ctx
// again (delivery is idempotent on their ids). A damaged journal does not
// keep the daemon down: it is reset, and its calls are rebuilt from the
// PBX's channel list instead.
func (p *Path) Restore(ctx context.Context, dir string) error {
	for _, s := range p.sources {
		j, err := journal.Open(filepath.Join(dir, s.name+".jsonl"))
		if err != nil {
			return err
		}
		s.j, s.ctx = j, ctx
		n, err := s.engine.Restore(j)
		if err != nil {
			p.log.Error().Err(err).Str("source", s.name).Msg("journal unreadable, starting from the PBX's channel list only")
			if rerr := j.Reset(); rerr != nil {
				return rerr
			}
		} else if n > 0 {
			st, _ := s.engine.Stats()
			p.log.Info().Str("source", s.name).Int("events", n).Int("calls_open", st.Calls).Msg("restored calls in progress from the journal")
		}
		s.engine.OnJournalError = func(err error) {
			p.log.Error().Err(err).Str("source", s.name).Msg("journal write failed; a crash now would lose calls in progress")
		}
	}
	return nil
}

// RunSources runs every source until ctx is done or one fails. A source
// replaced meanwhile (ReplaceSource) is stopped and its successor run in
// its place, on the same engine.
func (p *Path) RunSources(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range p.sources {
		s.ctx = gctx
		if s.gap != nil {
			g.Go(func() error { s.tick(gctx); return nil })
		}
		g.Go(func() error {
			for {
				p.dmu.Lock()
				dec, replaced := s.decode, s.replaced
				p.dmu.Unlock()
				p.log.Info().Str("source", s.name).Msg("source starting")
				sctx, cancel := context.WithCancel(gctx)
				errc := make(chan error, 1)
				go func() { errc <- s.run(sctx, dec) }()
				select {
				case err := <-errc:
					cancel()
					if err != nil && gctx.Err() == nil {
						return fmt.Errorf("%s source: %w", s.name, err)
					}
					return nil
				case <-replaced:
					cancel()
					<-errc
				}
			}
		})
	}
	return g.Wait()
}

// RunDelivery runs the delivery workers until ctx is done, then lets
// pushes in flight finish within delivery.drain_timeout. Replaced
// meanwhile (SetCRM), the old workers finish the same way before the new
// ones start: a job is never pushed by both. Without a CRM it returns at
// once.
func (p *Path) RunDelivery(ctx context.Context) error {
	for {
		p.dmu.Lock()
		d, swapped := p.dispatcher, p.swapped
		p.dmu.Unlock()
		if d == nil {
			return nil // no CRM, and none can be added (SetCRM)
		}
		dctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() { errc <- d.Run(dctx) }()
		select {
		case <-ctx.Done():
			cancel()
			return <-errc
		case <-swapped:
			cancel()
			if err := <-errc; err != nil {
				return err
			}
		}
	}
}

// Stats reports the calls in progress and the events handled, over every
// source.
func (p *Path) Stats() (calls, events int) {
	for _, s := range p.sources {
		s.mu.Lock()
		st, n := s.engine.Stats()
		s.mu.Unlock()
		calls += st.Calls
		events += n
	}
	return calls, events
}

// Flush ends the calls still open as of each source's newest event (the
// end of a recording); their activities go through the intake under ctx.
// Call it once the sources have stopped.
func (p *Path) Flush(ctx context.Context) {
	for _, s := range p.sources {
		s.mu.Lock()
		s.ctx = ctx
		s.engine.Flush()
		s.mu.Unlock()
	}
}

// Close closes the journals.
func (p *Path) Close() error {
	var errs []error
	for _, s := range p.sources {
		if s.j != nil {
			errs = append(errs, s.j.Close())
			s.j = nil
		}
	}
	return errors.Join(errs...)
}
