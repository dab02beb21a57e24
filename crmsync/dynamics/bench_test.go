package dynamics_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/dynamics"
	"github.com/callbridge/callbridge/crmsync/dynamics/fakedataverse"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// The service-protection limit scaled down from Dataverse's 6000 requests
// per 5 minutes (20/s) to 60 per 3 s (the same 20/s), so a drain hits it
// within seconds.
const (
	benchLimit  = 60
	benchWindow = 3 * time.Second
)

func backlog(prefix string, n int) []bridge.Activity {
	out := make([]bridge.Activity, n)
	for i := range out {
		out[i] = activity(fmt.Sprintf("%s-%d", prefix, i), bridge.Inbound, bridge.Connected, "+358401234567")
	}
	return out
}

// waitFor sleeps as a worker would on a retryable error.
func waitFor(err error) {
	d, ok := crmerr.RetryAfter(err)
	if !ok {
		d = 100 * time.Millisecond
	}
	time.Sleep(d)
}

// BenchmarkDrainOneByOne drains a backlog with Push from 4 workers, each
// honouring Retry-After, against a throttling fake.
func BenchmarkDrainOneByOne(b *testing.B) {
	const n = 60
	for b.Loop() {
		e := newEnv(b, fakedataverse.Options{RateLimit: benchLimit, RateWindow: benchWindow})
		d := e.connector(b, e.config(), dynamics.Options{Logger: zerolog.Nop()})
		acts := backlog("one", n)
		start := time.Now()
		work := make(chan bridge.Activity)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for a := range work {
					for {
						err := d.Push(context.Background(), delivery(a))
						if err == nil {
							break
						}
						if crmerr.IsPermanent(err) {
							b.Error(err)
							break
						}
						waitFor(err)
					}
				}
			})
		}
		for _, a := range acts {
			work <- a
		}
		close(work)
		wg.Wait()
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "activities/s")
		if e.fake.Phonecalls() != n {
			b.Fatalf("%d phonecalls", e.fake.Phonecalls())
		}
	}
}

// BenchmarkDrainBatched drains a larger backlog with PushBatch under the
// same limit.
func BenchmarkDrainBatched(b *testing.B) {
	const n = 3000
	for b.Loop() {
		e := newEnv(b, fakedataverse.Options{RateLimit: benchLimit, RateWindow: benchWindow})
		d := e.connector(b, e.config(), dynamics.Options{Logger: zerolog.Nop()})
		acts := backlog("batch", n)
		start := time.Now()
		for len(acts) > 0 {
			errs := d.PushBatch(context.Background(), deliveries(acts))
			var again []bridge.Activity
			var last error
			for i, err := range errs {
				if err != nil {
					if crmerr.IsPermanent(err) {
						b.Fatal(err)
					}
					again = append(again, acts[i])
					last = err
				}
			}
			if last != nil {
				waitFor(last)
			}
			acts = again
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "activities/s")
		if e.fake.Phonecalls() != n {
			b.Fatalf("%d phonecalls", e.fake.Phonecalls())
		}
	}
}

// BenchmarkSyncRecords runs a full caller-recognition sync of contacts
// from the fake over HTTP (pages of 5000) into the index, reporting
// records/s and the time a million records would take at that rate.
func BenchmarkSyncRecords(b *testing.B) {
	const n = 100_000
	e := newEnv(b, fakedataverse.Options{})
	for i := range n {
		e.fake.AddRecord("contacts", fakedataverse.Record{
			"contactid": fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), "fullname": "Contact Person",
			"mobilephone": fmt.Sprintf("040 %03d %04d", i/10000%1000, i%10000), "modifiedon": "2026-11-01T12:00:00Z",
		})
	}
	d := e.connector(b, e.config(), dynamics.Options{Logger: zerolog.Nop()})
	ents := []phoneindex.Entity{phoneindex.DefaultEntities()[0]}
	for b.Loop() {
		in, err := phoneindex.Open(context.Background(), "bench", d, phoneindex.FileStore{Dir: b.TempDir()},
			phoneindex.Settings{Region: "FI", Entities: ents, Enabled: true}, phoneindex.IntegrationOptions{Logger: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := in.Sync(context.Background(), true); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		if st := in.Status(); st.Records != n+1 { // and the contact newEnv adds
			b.Fatalf("%d records indexed", st.Records)
		}
		b.ReportMetric(float64(n)/el.Seconds(), "records/s")
		b.ReportMetric(el.Seconds()*1_000_000/n, "s/1M-records")
	}
}
