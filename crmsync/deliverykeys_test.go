package crmsync_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
)

// The delivery section's keys, each shown doing what docs/config.md says.

// watchedStore records what the dispatcher asks of the store.
type watchedStore struct {
	crmsync.Store
	mu     sync.Mutex
	claims []crmsync.ClaimRequest
	waits  []time.Duration // Nack: retry time minus now
	dead   []string        // DeadLetter reasons
}

func (s *watchedStore) Claim(ctx context.Context, req crmsync.ClaimRequest) ([]crmsync.Job, error) {
	s.mu.Lock()
	s.claims = append(s.claims, req)
	s.mu.Unlock()
	return s.Store.Claim(ctx, req)
}

func (s *watchedStore) Nack(ctx context.Context, j crmsync.Job, at time.Time, reason string) error {
	s.mu.Lock()
	s.waits = append(s.waits, time.Until(at))
	s.mu.Unlock()
	return s.Store.Nack(ctx, j, at, reason)
}

func (s *watchedStore) DeadLetter(ctx context.Context, j crmsync.Job, reason string) error {
	s.mu.Lock()
	s.dead = append(s.dead, reason)
	s.mu.Unlock()
	return s.Store.DeadLetter(ctx, j, reason)
}

func (s *watchedStore) snapshot() (claims []crmsync.ClaimRequest, waits []time.Duration, dead []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(claims, s.claims...), append(waits, s.waits...), append(dead, s.dead...)
}

// funcCRM pushes with a function.
type funcCRM func(ctx context.Context, d crmsync.Delivery) error

func (funcCRM) Name() string                                         { return "crm" }
func (f funcCRM) Push(ctx context.Context, d crmsync.Delivery) error { return f(ctx, d) }

func dispatcher(t *testing.T, s crmsync.Store, c crmsync.Connector, cfg crmsync.DeliveryConfig) *crmsync.Dispatcher {
	t.Helper()
	d, err := crmsync.NewDispatcher(s, []crmsync.Connector{c}, cfg, crmsync.DispatcherOptions{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// delivery.concurrency: exactly that many pushes of one connector in flight.
func TestDeliveryKeyConcurrency(t *testing.T) {
	store := newStore(t)
	enqueue(t, store, "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8")
	cfg := fastDelivery()
	cfg.Concurrency = 3
	var mu sync.Mutex
	inFlight, most, done := 0, 0, 0
	full := make(chan struct{})
	crm := funcCRM(func(ctx context.Context, _ crmsync.Delivery) error {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		if inFlight == cfg.Concurrency {
			select {
			case <-full:
			default:
				close(full)
			}
		}
		mu.Unlock()
		// Hold each push until the workers are all busy once, so that
		// the most in flight is the limit, not luck.
		select {
		case <-full:
		case <-time.After(5 * time.Second):
		}
		mu.Lock()
		inFlight--
		done++
		mu.Unlock()
		return nil
	})
	runUntil(t, dispatcher(t, store, crm, cfg), func() bool { mu.Lock(); defer mu.Unlock(); return done == 8 })
	if most != 3 {
		t.Errorf("at most %d pushes in flight, want delivery.concurrency 3", most)
	}
}

// delivery.lease and delivery.poll_interval: what every claim asks for.
func TestDeliveryKeyLeaseAndPollInterval(t *testing.T) {
	store := &watchedStore{Store: newStore(t)}
	enqueue(t, store, "l1")
	cfg := fastDelivery()
	cfg.Lease, cfg.PollInterval = 90*time.Second, 30*time.Millisecond
	delivered := make(chan struct{}, 1)
	crm := funcCRM(func(context.Context, crmsync.Delivery) error { delivered <- struct{}{}; return nil })
	runUntil(t, dispatcher(t, store, crm, cfg), func() bool { return len(delivered) == 1 })
	claims, _, _ := store.snapshot()
	if len(claims) == 0 {
		t.Fatal("no claim")
	}
	for _, c := range claims {
		if c.Lease != 90*time.Second || c.Wait != 30*time.Millisecond {
			t.Fatalf("claim %+v: want lease 90s, wait 30ms", c)
		}
	}
}

// delivery.push_timeout: the deadline of every push.
func TestDeliveryKeyPushTimeout(t *testing.T) {
	store := newStore(t)
	enqueue(t, store, "p1")
	cfg := fastDelivery()
	cfg.PushTimeout = 7 * time.Second
	left := make(chan time.Duration, 1)
	crm := funcCRM(func(ctx context.Context, _ crmsync.Delivery) error {
		dl, ok := ctx.Deadline()
		if !ok {
			dl = time.Now().Add(time.Hour)
		}
		left <- time.Until(dl)
		return nil
	})
	runUntil(t, dispatcher(t, store, crm, cfg), func() bool { return len(left) == 1 })
	if d := <-left; d > 7*time.Second || d < 6*time.Second {
		t.Errorf("push deadline in %v, want delivery.push_timeout 7s", d)
	}
}

// delivery.backoff_min and backoff_max bound the wait before each retry
// (half fixed, half random); delivery.max_attempts dead-letters after that
// many failures, and 0 never does.
func TestDeliveryKeyBackoffAndMaxAttempts(t *testing.T) {
	for _, maxAttempts := range []int{0, 4} {
		store := &watchedStore{Store: newStore(t)}
		enqueue(t, store, "b1")
		cfg := fastDelivery()
		cfg.BackoffMin, cfg.BackoffMax, cfg.MaxAttempts = 20*time.Millisecond, 80*time.Millisecond, maxAttempts
		var mu sync.Mutex
		attempts := 0
		crm := funcCRM(func(context.Context, crmsync.Delivery) error {
			mu.Lock()
			attempts++
			mu.Unlock()
			return crmerr.Retryable(errors.New("503"), 0)
		})
		runUntil(t, dispatcher(t, store, crm, cfg), func() bool {
			_, waits, dead := store.snapshot()
			return len(dead) > 0 || len(waits) >= 6
		})
		_, waits, dead := store.snapshot()
		if maxAttempts == 0 {
			if len(dead) != 0 || len(waits) < 6 {
				t.Fatalf("max_attempts 0: %d retries, dead letters %q", len(waits), dead)
			}
			// Failures 1, 2, 3 wait 20, 40, 80 ms (each half of it at
			// least); from then on at most backoff_max.
			for i, want := range []time.Duration{20, 40, 80, 80, 80, 80} {
				want *= time.Millisecond
				if w := waits[i]; w > want || w < want/2-5*time.Millisecond {
					t.Errorf("retry %d in %v, want %v/2..%v", i+1, w, want, want)
				}
			}
			continue
		}
		if len(dead) != 1 || dead[0] != "gave up after 4 attempts: retryable: 503" || len(waits) != 3 {
			t.Errorf("max_attempts 4: %d retries, dead letters %q", len(waits), dead)
		}
	}
}

// delivery.drain_timeout: a push in flight at shutdown may finish for that
// long and is then recorded as delivered; with 0 its context ends at once.
func TestDeliveryKeyDrainTimeout(t *testing.T) {
	for _, drain := range []time.Duration{0, time.Minute} {
		store := newStore(t)
		enqueue(t, store, "d1")
		cfg := fastDelivery()
		cfg.DrainTimeout = drain
		started, release := make(chan struct{}), make(chan struct{})
		var pushErr error
		crm := funcCRM(func(ctx context.Context, _ crmsync.Delivery) error {
			close(started)
			select {
			case <-release:
			case <-ctx.Done():
				pushErr = ctx.Err()
				return pushErr
			}
			return nil
		})
		d := dispatcher(t, store, crm, cfg)
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { d.Run(ctx); close(stopped) }()
		<-started
		cancel() // shutdown with the push in flight
		if drain > 0 {
			close(release)
		}
		<-stopped
		st, err := store.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case drain == 0 && (pushErr == nil || st[0].Delivered != 0):
			t.Errorf("drain_timeout 0: push ended with %v, %d delivered", pushErr, st[0].Delivered)
		case drain > 0 && (pushErr != nil || st[0].Delivered != 1):
			t.Errorf("drain_timeout 1m: push ended with %v, %d delivered", pushErr, st[0].Delivered)
		}
	}
}
