package reconnect

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is the wait between attempts: Min, doubling with each failure up
// to Max, jittered so that many clients retrying after one outage spread
// out but still back off.
type Backoff struct {
	Min, Max time.Duration
	// Spread jitters each wait by ± this fraction of it (0.2: ±20 %).
	// Zero means "equal jitter": half of the wait fixed, half random.
	Spread float64
}

// Wait is the wait after failure n (1 for the first; 0 counts as 1).
func (b Backoff) Wait(n int) time.Duration {
	d := b.Min
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if d <= 0 {
		return 0
	}
	if b.Spread > 0 {
		j := time.Duration(float64(d) * b.Spread)
		return max(d-j+rand.N(2*j+1), 0)
	}
	return d/2 + rand.N(d/2+1)
}

// Sleep waits d, or less when ctx ends first; it reports whether the full
// wait passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Retry calls op until it succeeds or ctx ends, waiting b.Wait(n) after
// the nth failure. retrying, if set, is told about each failure before the
// wait. It returns nil on success, else the last error once ctx has ended.
func Retry(ctx context.Context, b Backoff, op func(ctx context.Context) error, retrying func(err error, attempt int, wait time.Duration)) error {
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		wait := b.Wait(attempt)
		if retrying != nil {
			retrying(err, attempt, wait)
		}
		if !Sleep(ctx, wait) {
			return err
		}
	}
}
