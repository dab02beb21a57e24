package crmsync_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/redis"
	"github.com/callbridge/callbridge/crmsync/store/redis/redistest"
	"github.com/callbridge/callbridge/crmsync/store/storetest"
	"github.com/callbridge/callbridge/crmsync/webhook"
)

const faultSecret = "fault-test-secret"

// faultySink is a webhook receiver that keeps each activity once (by
// Idempotency-Key, as a CRM should) and fails a share of requests: 500,
// 429 with Retry-After, or no answer in time, sometimes after keeping the
// activity (the answer was lost, not the write).
type faultySink struct {
	failRate float64
	mu       sync.Mutex
	got      map[string]int // activity id -> requests that stored or found it
	bad      atomic.Int64   // unsigned or malformed requests
	hang     chan struct{}
}

func newFaultySink(rate float64) *faultySink {
	return &faultySink{failRate: rate, got: map[string]int{}, hang: make(chan struct{})}
}

func (s *faultySink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if webhook.Verify([]byte(faultSecret), r.Header.Get(webhook.SignatureHeader), body, time.Now(), time.Minute) != nil {
		s.bad.Add(1)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	id := r.Header.Get("Idempotency-Key")
	store := func() {
		s.mu.Lock()
		s.got[id]++
		s.mu.Unlock()
	}
	x := rand.Float64()
	switch {
	case x < s.failRate*0.35:
		http.Error(w, "busy", http.StatusInternalServerError)
	case x < s.failRate*0.65:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	case x < s.failRate*0.85:
		s.hangUp(r)
	case x < s.failRate:
		store() // written, but the answer never arrives
		s.hangUp(r)
	default:
		store()
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *faultySink) hangUp(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.hang:
	}
}

func (s *faultySink) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// crashable drops every store call once crashed, as a killed process
// would: what the worker had claimed stays leased until the lease runs out.
type crashable struct {
	crmsync.Store
	dead atomic.Bool
}

var errCrashed = errors.New("process crashed")

func (c *crashable) Claim(ctx context.Context, r crmsync.ClaimRequest) ([]crmsync.Job, error) {
	if c.dead.Load() {
		return nil, errCrashed
	}
	return c.Store.Claim(ctx, r)
}
func (c *crashable) Ack(ctx context.Context, j crmsync.Job) error {
	if c.dead.Load() {
		return errCrashed
	}
	return c.Store.Ack(ctx, j)
}
func (c *crashable) Nack(ctx context.Context, j crmsync.Job, at time.Time, e string) error {
	if c.dead.Load() {
		return errCrashed
	}
	return c.Store.Nack(ctx, j, at, e)
}
func (c *crashable) DeadLetter(ctx context.Context, j crmsync.Job, r string) error {
	if c.dead.Load() {
		return errCrashed
	}
	return c.Store.DeadLetter(ctx, j, r)
}

// instance is one callbridge delivering from the shared Redis. This one
// runs in-process; a SIGKILLed `callbridge run` can implement the same.
type instance interface {
	Start(t *testing.T)
	Crash(t *testing.T)
}

type inProcess struct {
	name     string
	redisURL string
	sinkURL  string
	cancel   context.CancelFunc
	done     chan struct{}
	store    *crashable
	gen      int
}

func (p *inProcess) Start(t *testing.T) {
	rs, err := redis.Open(context.Background(), p.redisURL, redis.Options{Prefix: "fault"})
	if err != nil {
		t.Fatal(err)
	}
	p.store = &crashable{Store: rs}
	hook, err := webhook.New("hook", webhook.Config{URL: p.sinkURL, Secret: faultSecret, Timeout: 250 * time.Millisecond},
		webhook.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	p.gen++
	d, err := crmsync.NewDispatcher(p.store, []crmsync.Connector{hook}, crmsync.DeliveryConfig{
		Concurrency: 24, Lease: 1500 * time.Millisecond, PushTimeout: 400 * time.Millisecond,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 300 * time.Millisecond,
		DrainTimeout: 0, PollInterval: 100 * time.Millisecond,
	}, crmsync.DispatcherOptions{Logger: zerolog.Nop(), Instance: fmt.Sprintf("%s-%d", p.name, p.gen)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go func() { defer close(p.done); _ = d.Run(ctx) }()
}

func (p *inProcess) Crash(t *testing.T) {
	p.store.dead.Store(true)
	p.cancel()
	<-p.done
	p.store.Close()
}

func TestFaultsExactlyOnce(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d instances", n), func(t *testing.T) { faultRun(t, n, 5000) })
	}
}

func faultRun(t *testing.T, instances, total int) {
	srv := redistest.Start(t)
	sink := newFaultySink(0.3)
	hs := httptest.NewServer(sink)
	defer hs.Close()
	defer close(sink.hang)

	var insts []instance
	for i := range instances {
		p := &inProcess{name: fmt.Sprint("cb", i), redisURL: srv.URL(), sinkURL: hs.URL}
		p.Start(t)
		insts = append(insts, p)
	}

	// The producer keeps enqueueing through the Redis restart, retrying
	// as the engine's intake would.
	prod, err := redis.Open(context.Background(), srv.URL(), redis.Options{Prefix: "fault"})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	want := map[string]bool{}
	for i := range total {
		want[fmt.Sprintf("act-%05d", i)] = true
	}
	var produced atomic.Int64
	prodDone := make(chan struct{})
	go func() {
		defer close(prodDone)
		for i := range total {
			a := storetest.Activity(fmt.Sprintf("act-%05d", i))
			for {
				if _, err := prod.Enqueue(context.Background(), "hook", a); err == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			produced.Add(1)
		}
	}()

	deadline := time.Now().Add(50 * time.Second)
	waitFor := func(n int) {
		for sink.distinct() < n && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor(total / 5)
	insts[0].Crash(t) // crash with jobs leased and pushes in flight
	insts[0].Start(t)
	waitFor(total * 2 / 5)
	srv.Restart(t)
	waitFor(total * 3 / 5)
	insts[len(insts)-1].Crash(t)
	insts[len(insts)-1].Start(t)
	waitFor(total)
	<-prodDone

	// Let the last acks land, then check the queue is empty.
	var st crmsync.QueueStats
	for time.Now().Before(deadline.Add(5 * time.Second)) {
		all, err := prod.Stats(context.Background())
		if err == nil && len(all) == 1 {
			st = all[0]
			if st.Ready+st.InFlight+st.Delayed == 0 {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, in := range insts {
		in.Crash(t)
	}

	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.got) != total {
		t.Errorf("sink holds %d distinct activities, want %d", len(sink.got), total)
	}
	repeats := 0
	for id, n := range sink.got {
		if !want[id] {
			t.Errorf("sink holds unknown activity %q", id)
		}
		repeats += n - 1
	}
	if sink.bad.Load() != 0 {
		t.Errorf("%d requests failed the signature check", sink.bad.Load())
	}
	if st.Dead != 0 || st.Ready+st.InFlight+st.Delayed != 0 {
		t.Errorf("queue not drained: %+v", st)
	}
	t.Logf("%d activities, %d instances: %d repeated deliveries absorbed by the idempotency key; queue %+v",
		total, instances, repeats, st)
}
