package crmsync_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/bolt"
	"github.com/callbridge/callbridge/crmsync/store/redis"
	"github.com/callbridge/callbridge/crmsync/store/redis/redistest"
	"github.com/callbridge/callbridge/crmsync/store/storetest"
	"github.com/callbridge/callbridge/crmsync/webhook"
)

// BenchmarkDelivery measures activities/s from Enqueue to a local webhook
// sink, and the enqueue-to-sink latency (p50/p99 as custom metrics), with
// the daemon's defaults: the delivery section of a fresh config, the
// stores opened as the daemon opens them. Each store runs three ways:
//
//	serial     one goroutine enqueues, each activity once the last one's
//	           Enqueue returned, as the pipeline's queue stage does
//	8-at-once  eight goroutines enqueue, as when several activities are at
//	           hand together (several sources, or a batch enqueued at once)
//	backlog    b.N activities are queued before the workers start: the
//	           drain after a CRM outage (no latency: they all waited)
func BenchmarkDelivery(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) crmsync.Store
	}{
		{"bolt", func(b *testing.B) crmsync.Store {
			s, err := bolt.Open(b.TempDir(), bolt.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"redis", func(b *testing.B) crmsync.Store {
			srv := redistest.Start(b)
			s, err := redis.Open(context.Background(), srv.URL(), redis.Options{Prefix: "callbridge"})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, st := range stores {
		for _, mode := range []struct {
			name      string
			producers int // 0: backlog
		}{{"serial", 1}, {"8-at-once", 8}, {"backlog", 0}} {
			b.Run(st.name+"/"+mode.name, func(b *testing.B) {
				s := st.open(b)
				defer s.Close()
				benchDelivery(b, s, mode.producers)
			})
		}
	}
}

func benchDelivery(b *testing.B, s crmsync.Store, producers int) {
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat []time.Duration
	done := make(chan struct{}, 1024)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("Idempotency-Key")
		mu.Lock()
		if t0, ok := sent[id]; ok {
			lat = append(lat, time.Since(t0))
			delete(sent, id)
			mu.Unlock()
			done <- struct{}{}
		} else {
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer sink.Close()
	hook, err := webhook.New("hook", webhook.Config{URL: sink.URL, Secret: "bench"}, webhook.Options{Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	d, err := crmsync.NewDispatcher(s, []crmsync.Connector{hook}, crmsync.DefaultDeliveryConfig(), crmsync.DispatcherOptions{Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	enqueue := func(i int) bool {
		a := storetest.Activity(fmt.Sprintf("%s-%d-%d", b.Name(), b.N, i))
		mu.Lock()
		sent[a.ID] = time.Now()
		mu.Unlock()
		if _, err := s.Enqueue(context.Background(), "hook", a); err != nil {
			b.Error(err)
			return false
		}
		return true
	}
	if producers == 0 {
		for i := range b.N {
			if !enqueue(i) {
				return
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	defer func() { cancel(); <-runDone }()

	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU(b)
	go func() { defer close(runDone); _ = d.Run(ctx) }()
	for p := range producers {
		go func() {
			for i := p; i < b.N; i += producers {
				if !enqueue(i) {
					return
				}
			}
		}()
	}
	for range b.N {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			b.Fatal("delivery stalled")
		}
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "activities/s")
	// The process's CPU (the store, the dispatcher, and the sink server
	// beside them) per activity: what the disk's speed does not hide.
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu_us/activity")
	mu.Lock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 && producers > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	}
	mu.Unlock()
}

// processCPU is the CPU time, user and system, this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
