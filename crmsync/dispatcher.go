package crmsync

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/internal/reconnect"
)

// maxBatch bounds the jobs one worker takes in one batch.
const maxBatch = 100

// DispatcherOptions are the daemon's parts the dispatcher uses, and the
// stages each claimed job goes through. A zero stage gets its defaults
// from the DeliveryConfig.
type DispatcherOptions struct {
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // may be nil
	// Instance names this process among those sharing the store; lease
	// holders are "<instance>/<connector>". Default: host name and pid.
	Instance string

	Assign Assign // what the policy decides about each activity
	Push   Push   // the connector writes it
	Settle Settle // the outcome is recorded in the store
}

// Dispatcher runs the delivery workers of every connector. Each worker
// claims jobs from the queue and takes them through three stages: Assign,
// Push (the connector), Settle.
type Dispatcher struct {
	store  Store
	conns  []Connector
	cfg    DeliveryConfig
	log    zerolog.Logger
	inst   string
	m      *deliveryMetrics
	assign Assign
	push   Push
	settle Settle
}

// NewDispatcher checks cfg and returns a dispatcher for conns over store.
func NewDispatcher(store Store, conns []Connector, cfg DeliveryConfig, opts DispatcherOptions) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, c := range conns {
		if seen[c.Name()] {
			return nil, fmt.Errorf("connector %q given twice", c.Name())
		}
		seen[c.Name()] = true
	}
	inst := opts.Instance
	if inst == "" {
		h, _ := os.Hostname()
		inst = h + "-" + strconv.Itoa(os.Getpid())
	}
	m, err := newDeliveryMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{store: store, conns: conns, cfg: cfg, log: opts.Logger, inst: inst, m: m,
		assign: opts.Assign, push: opts.Push, settle: opts.Settle}
	if d.push.Timeout == 0 {
		d.push.Timeout = cfg.PushTimeout
	}
	if d.settle.Store == nil {
		d.settle = Settle{Store: store, Backoff: cfg.Backoff(), MaxAttempts: cfg.MaxAttempts}
	}
	d.push.m, d.settle.m = m, m
	return d, nil
}

// Run delivers until ctx is cancelled, then stops claiming, gives pushes in
// flight DrainTimeout to finish and records their outcome. Jobs it could not
// settle are claimed again when their lease runs out. Store outages are
// waited out, not returned.
func (d *Dispatcher) Run(ctx context.Context) error {
	// drain outlives ctx by DrainTimeout: pushes in flight use it.
	drain, stopDrain := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDrain()
	go func() {
		select {
		case <-ctx.Done():
			t := time.NewTimer(d.cfg.DrainTimeout)
			defer t.Stop()
			select {
			case <-t.C:
				stopDrain()
			case <-drain.Done():
			}
		case <-drain.Done():
		}
	}()
	var wg sync.WaitGroup
	for _, c := range d.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.runConnector(ctx, drain, c)
		}()
	}
	wg.Wait()
	return nil
}

// settleBound is how many pushes' outcomes (or backlog shares') per
// worker may be on their way to the store while the workers push on:
// enough for the pushes of an ack's linger (the embedded store's 50 ms;
// it commits sooner once 256 acks wait, which 4 workers' bounds reach), so
// that acks waiting to share a commit do not hold up the pushes.
const settleBound = 64

// runConnector claims c's jobs from the queue and hands each to a worker.
func (d *Dispatcher) runConnector(ctx, drain context.Context, c Connector) {
	log := d.log.With().Str("connector", c.Name()).Logger()
	worker := d.inst + "/" + c.Name()
	slots := make(chan struct{}, d.cfg.Concurrency)
	// Outcomes being recorded are bounded apart from the pushes: a store
	// may take a while to answer an ack (the embedded one lets acks wait
	// up to 50 ms to share a commit), and a worker moves on to its
	// next push meanwhile.
	settling := make(chan struct{}, settleBound*d.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	retry := d.cfg.Backoff()
	failures := 0
	for ctx.Err() == nil {
		// Claim only as many jobs as there are free workers, so none sits
		// leased while waiting.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	fill:
		for n < d.cfg.Concurrency {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break fill
			}
		}
		bp, batching := c.(BatchPusher)
		want := n * d.cfg.backlogShare()
		if batching {
			want = n * maxBatch
		}
		jobs, err := d.store.Claim(ctx, ClaimRequest{
			Connector: c.Name(), Worker: worker, Max: want, Lease: d.cfg.Lease, Wait: d.cfg.PollInterval,
		})
		used := min(len(jobs), n)
		for range n - used {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d.m.storeErrors.WithLabelValues("claim").Inc()
			failures++
			wait := retry.Wait(failures)
			log.Warn().Err(err).Dur("retry_in", wait).Msg("claiming jobs failed")
			reconnect.Sleep(ctx, wait)
			continue
		}
		failures = 0
		if len(jobs) > n {
			// A backlog: each worker takes an even share, as one batch
			// where the connector takes batches, else one push after
			// another; the share's outcomes are then recorded together.
			for i := range used {
				chunk := jobs[i*len(jobs)/used : (i+1)*len(jobs)/used]
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs := d.pushShare(drain, c, bp, batching, chunk)
					settling <- struct{}{}
					<-slots
					d.settleAll(drain, log, c, chunk, errs)
					<-settling
				}()
			}
			continue
		}
		for _, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := d.pushOne(drain, c, j)
				// The push is done: the next one may start while this
				// outcome is recorded, so a store round trip (an fsync)
				// is not part of every worker's cycle.
				settling <- struct{}{}
				<-slots
				d.settle.Settle(drain, log, c, j, err)
				<-settling
			}()
		}
	}
}

// pushShare pushes a worker's share of a backlog: the plain activities in
// one batch when the connector takes batches, the rest one by one. It
// returns each job's outcome.
func (d *Dispatcher) pushShare(drain context.Context, c Connector, bp BatchPusher, batching bool, jobs []Job) []error {
	errs := make([]error, len(jobs))
	var batch []int
	for k, j := range jobs {
		if batching && j.Task == nil && !j.Open {
			batch = append(batch, k)
			continue
		}
		errs[k] = d.pushOne(drain, c, j)
	}
	if len(batch) > 0 {
		plainJobs := make([]Job, len(batch))
		for i, k := range batch {
			plainJobs[i] = jobs[k]
		}
		for i, err := range d.push.Batch(drain, c, bp, d.assign.Deliveries(plainJobs)) {
			errs[batch[i]] = err
		}
	}
	return errs
}

// settleAll records the outcomes of jobs at once, so that a store that
// commits concurrent changes together (the embedded one) records them in
// one commit.
func (d *Dispatcher) settleAll(drain context.Context, log zerolog.Logger, c Connector, jobs []Job, errs []error) {
	var wg sync.WaitGroup
	for k, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.settle.Settle(drain, log, c, j, errs[k])
		}()
	}
	wg.Wait()
}
