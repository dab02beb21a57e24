package crmsync

import (
	"context"
	"fmt"
	"time"

	"github.com/callbridge/callbridge/crmsync/crmerr"
)

// Push is the connector stage of delivery: the connector writes the
// activity, within Timeout. A credential the CRM refuses (401) is refreshed
// once and the push repeated; still refused, the error is made retryable,
// so activities wait for an operator to fix the credential instead of
// going to the dead letters.
type Push struct {
	Timeout time.Duration // bounds one push or batch (the connector may bound it tighter)
	m       *deliveryMetrics
}

// One pushes d to c.
func (s Push) One(drain context.Context, c Connector, d Delivery) error {
	return s.call(drain, c, func(ctx context.Context) error { return c.Push(ctx, d) })
}

// call runs one request of c (a push, an update, a callback) within
// Timeout, refreshing a refused credential once.
func (s Push) call(drain context.Context, c Connector, do func(ctx context.Context) error) error {
	start := time.Now()
	defer s.observe(c, start)
	ctx, cancel := context.WithTimeout(drain, s.Timeout)
	defer cancel()
	err := do(ctx)
	if crmerr.IsUnauthorized(err) {
		if r, ok := c.(Refresher); ok {
			if rerr := r.Refresh(ctx); rerr != nil {
				return crmerr.Retryable(fmt.Errorf("%w; refreshing the credential: %w", err, rerr), 0)
			}
			err = do(ctx)
		}
		if crmerr.IsUnauthorized(err) {
			return crmerr.Retryable(err, 0)
		}
	}
	return err
}

// Batch pushes ds to c in one batch and returns one error per delivery.
func (s Push) Batch(drain context.Context, c Connector, bp BatchPusher, ds []Delivery) []error {
	start := time.Now()
	defer s.observe(c, start)
	ctx, cancel := context.WithTimeout(drain, s.Timeout)
	defer cancel()
	errs := pushBatch(ctx, bp, ds)
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
			for k, err := range pushBatch(ctx, bp, retry) {
				errs[again[k]] = err
			}
		}
	}
	for i, err := range errs {
		if crmerr.IsUnauthorized(err) {
			errs[i] = crmerr.Retryable(err, 0)
		}
	}
	return errs
}

func (s Push) observe(c Connector, start time.Time) {
	if s.m != nil {
		s.m.pushDuration.WithLabelValues(c.Name()).Observe(time.Since(start).Seconds())
	}
}

// pushBatch calls the connector and makes sure there is one result per
// delivery.
func pushBatch(ctx context.Context, bp BatchPusher, ds []Delivery) []error {
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
