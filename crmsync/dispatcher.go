package crmsync

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync/crmerr"
)

// DeliveryConfig tunes the delivery workers.
type DeliveryConfig struct {
	// Concurrency is the number of pushes in flight per connector.
	Concurrency int `yaml:"concurrency"`
	// Lease is how long a worker holds a job before others may take it
	// over; it must outlast PushTimeout.
	Lease time.Duration `yaml:"lease"`
	// PushTimeout bounds one push (the connector may bound it tighter).
	PushTimeout time.Duration `yaml:"push_timeout"`
	// BackoffMin and BackoffMax bound the exponential backoff between
	// attempts (with jitter). A Retry-After from the CRM overrides it.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// MaxAttempts moves a job to the dead letters after this many failed
	// attempts. 0: retry until delivered (the backoff caps the rate).
	MaxAttempts int `yaml:"max_attempts"`
	// DrainTimeout is how long pushes in flight may finish on shutdown. It
	// must be shorter than systemd's TimeoutStopSec.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// PollInterval is how often an idle worker looks for due retries.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// DefaultDeliveryConfig is the delivery tuning of a fresh install.
func DefaultDeliveryConfig() DeliveryConfig {
	return DeliveryConfig{
		Concurrency:  4,
		Lease:        2 * time.Minute,
		PushTimeout:  30 * time.Second,
		BackoffMin:   time.Second,
		BackoffMax:   10 * time.Minute,
		DrainTimeout: 10 * time.Second,
		PollInterval: time.Second,
	}
}

// Validate returns every problem, joined, naming keys relative to the
// delivery section.
func (c DeliveryConfig) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		bad("concurrency", "want 1..1024, got %d", c.Concurrency)
	}
	if c.PushTimeout <= 0 {
		bad("push_timeout", "must be positive")
	}
	if c.Lease <= c.PushTimeout {
		bad("lease", "must be longer than push_timeout (%s)", c.PushTimeout)
	}
	if c.BackoffMin <= 0 {
		bad("backoff_min", "must be positive")
	}
	if c.BackoffMax < c.BackoffMin {
		bad("backoff_max", "must not be below backoff_min (%s)", c.BackoffMin)
	}
	if c.MaxAttempts < 0 {
		bad("max_attempts", "must not be negative")
	}
	if c.DrainTimeout < 0 {
		bad("drain_timeout", "must not be negative")
	}
	if c.PollInterval <= 0 {
		bad("poll_interval", "must be positive")
	}
	return errors.Join(errs...)
}

// maxBatch bounds the jobs one worker takes in one batch.
const maxBatch = 100

// DispatcherOptions are the daemon's parts the dispatcher uses.
type DispatcherOptions struct {
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // may be nil
	// Instance names this process among those sharing the store; lease
	// holders are "<instance>/<connector>". Default: host name and pid.
	Instance string
	// Assigner says where each activity goes in the CRM (the Policy).
	// Nil: every delivery has the zero Assignment, the connector's
	// defaults.
	Assigner Assigner
}

// Dispatcher runs the delivery workers of every connector.
type Dispatcher struct {
	store Store
	conns []Connector
	cfg   DeliveryConfig
	log   zerolog.Logger
	inst  string
	m     *deliveryMetrics
	asg   Assigner
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
	return &Dispatcher{store: store, conns: conns, cfg: cfg, log: opts.Logger, inst: inst, m: m, asg: opts.Assigner}, nil
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

func (d *Dispatcher) runConnector(ctx, drain context.Context, c Connector) {
	log := d.log.With().Str("connector", c.Name()).Logger()
	worker := d.inst + "/" + c.Name()
	slots := make(chan struct{}, d.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
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
		want := n
		bp, batching := c.(BatchPusher)
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
			wait := d.backoff(failures)
			log.Warn().Err(err).Dur("retry_in", wait).Msg("claiming jobs failed")
			sleep(ctx, wait)
			continue
		}
		failures = 0
		if batching && len(jobs) > n {
			// A backlog: each worker takes an even share as one batch.
			for i := range used {
				chunk := jobs[i*len(jobs)/used : (i+1)*len(jobs)/used]
				wg.Add(1)
				go func() {
					defer func() { <-slots; wg.Done() }()
					d.deliverBatch(drain, log, c, bp, chunk)
				}()
			}
			continue
		}
		for _, j := range jobs {
			wg.Add(1)
			go func() {
				defer func() { <-slots; wg.Done() }()
				d.deliver(drain, log, c, j)
			}()
		}
	}
}

// assign is the assign stage: what the policy decides about each job's
// activity, computed once, carried in its Delivery.
func (d *Dispatcher) assign(j Job) Delivery {
	dl := Delivery{Activity: j.Activity}
	if d.asg != nil {
		dl.Assignment = d.asg.Assign(j.Activity)
	}
	return dl
}

// deliverBatch pushes jobs in one batch and settles each with its own
// outcome.
func (d *Dispatcher) deliverBatch(drain context.Context, log zerolog.Logger, c Connector, bp BatchPusher, jobs []Job) {
	start := time.Now()
	ds := make([]Delivery, len(jobs))
	for i, j := range jobs {
		ds[i] = d.assign(j)
	}
	ctx, cancel := context.WithTimeout(drain, d.cfg.PushTimeout)
	defer cancel()
	errs := d.pushBatch(ctx, bp, ds)
	// Refused credentials: refresh once and push those again, as a single
	// push would; still refused waits for an operator, never dead letters.
	var again []int
	for i, err := range errs {
		if crmerr.IsUnauthorized(err) {
			again = append(again, i)
		}
	}
	if r, ok := c.(Refresher); ok && len(again) > 0 {
		if rerr := r.Refresh(ctx); rerr == nil {
			retry := make([]Delivery, len(again))
			for k, i := range again {
				retry[k] = ds[i]
			}
			for k, err := range d.pushBatch(ctx, bp, retry) {
				errs[again[k]] = err
			}
		}
	}
	for i, err := range errs {
		if crmerr.IsUnauthorized(err) {
			errs[i] = crmerr.Retryable(err, 0)
		}
	}
	d.m.pushDuration.WithLabelValues(c.Name()).Observe(time.Since(start).Seconds())
	for i, j := range jobs {
		d.settle(drain, log, c, j, errs[i])
	}
}

// deliver pushes one job and settles it in the store.
func (d *Dispatcher) deliver(drain context.Context, log zerolog.Logger, c Connector, j Job) {
	start := time.Now()
	err := d.push(drain, c, d.assign(j))
	d.m.pushDuration.WithLabelValues(c.Name()).Observe(time.Since(start).Seconds())
	d.settle(drain, log, c, j, err)
}

// pushBatch calls the connector and makes sure there is one result per
// delivery.
func (d *Dispatcher) pushBatch(ctx context.Context, bp BatchPusher, ds []Delivery) []error {
	errs := bp.PushBatch(ctx, ds)
	if len(errs) != len(ds) {
		err := crmerr.Retryable(fmt.Errorf("batch push answered %d results for %d activities", len(errs), len(ds)), 0)
		errs = make([]error, len(ds))
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// settle records a push's outcome: ack, dead letter, or retry later.
func (d *Dispatcher) settle(drain context.Context, log zerolog.Logger, c Connector, j Job, err error) {
	log = log.With().Str("call_id", j.Activity.CallID).Str("user", j.Activity.User).Int("attempt", j.Attempt+1).Logger()
	// Settle even when draining has run out: a store round trip is short
	// and saves the job waiting out its lease.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(drain), 5*time.Second)
	defer cancel()
	var serr error
	result := "ok"
	switch {
	case err == nil:
		serr = d.store.Ack(sctx, j)
		if serr == nil {
			d.m.latency.WithLabelValues(c.Name()).Observe(time.Since(j.EnqueuedAt).Seconds())
		}
	case crmerr.IsPermanent(err):
		result = "dead"
		serr = d.store.DeadLetter(sctx, j, err.Error())
		log.Warn().Err(err).Msg("activity refused; moved to dead letters")
	case d.cfg.MaxAttempts > 0 && j.Attempt+1 >= d.cfg.MaxAttempts:
		result = "dead"
		serr = d.store.DeadLetter(sctx, j, fmt.Sprintf("gave up after %d attempts: %v", j.Attempt+1, err))
		log.Warn().Err(err).Msg("activity undeliverable; moved to dead letters")
	default:
		result = "retry"
		wait, honoured := crmerr.RetryAfter(err)
		if honoured {
			wait += jitter(wait / 10) // never sooner than asked
		} else {
			wait = d.backoff(j.Attempt + 1)
		}
		serr = d.store.Nack(sctx, j, time.Now().Add(wait), err.Error())
		log.Info().Err(err).Dur("retry_in", wait).Msg("push failed; will retry")
	}
	if errors.Is(serr, ErrLeaseLost) {
		result = "lease_lost"
		log.Warn().Msg("lease ran out during the push; another worker has the job")
	} else if serr != nil {
		d.m.storeErrors.WithLabelValues("settle").Inc()
		log.Warn().Err(serr).Msg("recording the push outcome failed; the job will be claimed again")
	}
	d.m.pushes.WithLabelValues(c.Name(), result).Inc()
}

// push calls the connector, refreshing its credential once on a 401.
func (d *Dispatcher) push(drain context.Context, c Connector, dl Delivery) error {
	ctx, cancel := context.WithTimeout(drain, d.cfg.PushTimeout)
	defer cancel()
	err := c.Push(ctx, dl)
	if crmerr.IsUnauthorized(err) {
		if r, ok := c.(Refresher); ok {
			if rerr := r.Refresh(ctx); rerr != nil {
				return crmerr.Retryable(fmt.Errorf("%w; refreshing the credential: %w", err, rerr), 0)
			}
			err = c.Push(ctx, dl)
		}
		if crmerr.IsUnauthorized(err) {
			// Still refused: wait for an operator to fix the credential
			// rather than dead-letter every activity meanwhile.
			return crmerr.Retryable(err, 0)
		}
	}
	return err
}

// backoff is the wait before attempt n+1: BackoffMin doubling per attempt up
// to BackoffMax, with "equal jitter" (half fixed, half random) so retries of
// many jobs after an outage spread out but still grow.
func (d *Dispatcher) backoff(n int) time.Duration {
	w := d.cfg.BackoffMin
	for i := 1; i < n && w < d.cfg.BackoffMax; i++ {
		w *= 2
	}
	w = min(w, d.cfg.BackoffMax)
	return w/2 + jitter(w/2)
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

type deliveryMetrics struct {
	pushes       *prometheus.CounterVec
	pushDuration *prometheus.HistogramVec
	latency      *prometheus.HistogramVec
	storeErrors  *prometheus.CounterVec
}

func newDeliveryMetrics(reg prometheus.Registerer) (*deliveryMetrics, error) {
	m := &deliveryMetrics{
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_crmsync_pushes_total",
			Help: "Push attempts by connector and result (ok, retry, dead, lease_lost).",
		}, []string{"connector", "result"}),
		pushDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callbridge_crmsync_push_duration_seconds",
			Help:    "Time one push to a connector took.",
			Buckets: prometheus.DefBuckets,
		}, []string{"connector"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callbridge_crmsync_delivery_latency_seconds",
			Help:    "Time from enqueueing an activity to its acknowledged delivery.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 10),
		}, []string{"connector"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbridge_crmsync_store_errors_total",
			Help: "Failed store operations of the delivery workers, by operation.",
		}, []string{"op"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.pushes, m.pushDuration, m.latency, m.storeErrors} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("delivery metrics: %w", err)
			}
		}
	}
	return m, nil
}
