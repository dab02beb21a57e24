// Package drain is the connectors' backlog benchmark: a backlog of
// activities pushed by a few workers, as the delivery workers would, each
// failed chunk retried after the wait the connector asks for.
package drain

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
)

// Push writes a chunk of deliveries, one error per delivery (a connector's
// PushBatch, or Push wrapped for a chunk of one).
type Push func(ctx context.Context, ds []crmsync.Delivery) []error

// Run drains ds in chunks of chunk with workers workers. A retryable
// failure is retried after the connector's Retry-After, capped at
// maxWait (a benchmark scales the CRM's limit windows down; the connector's
// waits are for the real ones), else after 50 ms. It fails b on a
// permanent error and returns the time taken.
func Run(b *testing.B, ds []crmsync.Delivery, chunk, workers int, maxWait time.Duration, push Push) time.Duration {
	b.Helper()
	work := make(chan []crmsync.Delivery)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for c := range work {
				for len(c) > 0 {
					errs := push(context.Background(), c)
					var again []crmsync.Delivery
					var last error
					for i, err := range errs {
						switch {
						case err == nil:
						case crmerr.IsPermanent(err):
							b.Error(err)
						default:
							again, last = append(again, c[i]), err
						}
					}
					if last != nil {
						d, ok := crmerr.RetryAfter(last)
						if !ok {
							d = 50 * time.Millisecond
						}
						time.Sleep(min(d, maxWait))
					}
					c = again
				}
			}
		})
	}
	for i := 0; i < len(ds); i += chunk {
		work <- ds[i:min(i+chunk, len(ds))]
	}
	close(work)
	wg.Wait()
	return time.Since(start)
}

// One wraps a connector's Push as a Push of chunks of one.
func One(c crmsync.Connector) Push {
	return func(ctx context.Context, ds []crmsync.Delivery) []error {
		errs := make([]error, len(ds))
		for i, d := range ds {
			errs[i] = c.Push(ctx, d)
		}
		return errs
	}
}

// Report adds the figures docs/performance.md quotes: activities/s, the
// requests the CRM accepted per activity, how many requests the limit
// refused, and of-limit: the accepted requests as a share of the most a
// sliding window of limit requests per window admits in that time (a full
// window at the start, then limit every window: limit × (1 + took/window)).
func Report(b *testing.B, n, accepted, refused int, took time.Duration, limit int, window time.Duration) {
	b.ReportMetric(float64(n)/took.Seconds(), "activities/s")
	b.ReportMetric(float64(accepted)/float64(n), "requests/activity")
	b.ReportMetric(float64(refused), "refused")
	if limit > 0 {
		b.ReportMetric(float64(accepted)/(float64(limit)*(1+took.Seconds()/window.Seconds())), "of-limit")
	}
}
