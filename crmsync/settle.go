package crmsync

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/internal/reconnect"
)

// Settle is the settle stage of delivery: it records a push's outcome in
// the store. Delivered: ack. Refused for good (crmerr.Permanent), or out of
// attempts: the dead letters, with the reason. Anything else: a retry at
// the CRM's Retry-After, or else at the backoff for the attempt.
type Settle struct {
	Store       Store
	Backoff     reconnect.Backoff
	MaxAttempts int // 0: retry until delivered
	// States, if set, is told each connector's last outcome (readiness).
	States *PushStates
	m      *deliveryMetrics
}

// Settle records j's push to c, which ended with err.
func (s Settle) Settle(drain context.Context, log zerolog.Logger, c Connector, j Job, err error) {
	log = log.With().Str("call_id", j.Activity.CallID).Str("user", j.Activity.User).Int("attempt", j.Attempt+1).Logger()
	if j.Task != nil {
		log = log.With().Str("task", j.Task.ID).Logger()
	}
	// Settle even when draining has run out: a store round trip is short
	// and saves the job waiting out its lease.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(drain), 5*time.Second)
	defer cancel()
	var serr error
	result := "ok"
	if r, e, done := s.settleTask(sctx, log, j, err); done {
		result, serr = r, e
		err = nil
	}
	switch {
	case result != "ok":
	case err == nil:
		serr = s.Store.Ack(sctx, j)
		if serr == nil {
			s.m.latency.WithLabelValues(c.Name()).Observe(time.Since(j.EnqueuedAt).Seconds())
		}
	case crmerr.IsPermanent(err):
		result = "dead"
		serr = s.Store.DeadLetter(sctx, j, err.Error())
		log.Warn().Err(err).Msg("activity refused; moved to dead letters")
	case s.MaxAttempts > 0 && j.Attempt+1 >= s.MaxAttempts:
		result = "dead"
		serr = s.Store.DeadLetter(sctx, j, fmt.Sprintf("gave up after %d attempts: %v", j.Attempt+1, err))
		log.Warn().Err(err).Msg("activity undeliverable; moved to dead letters")
	default:
		result = "retry"
		wait, honoured := crmerr.RetryAfter(err)
		if honoured {
			wait += jitter(wait / 10) // never sooner than asked
		} else {
			wait = s.Backoff.Wait(j.Attempt + 1)
		}
		serr = s.Store.Nack(sctx, j, time.Now().Add(wait), err.Error())
		log.Warn().Err(err).Str("retry_in", wait.String()).Msg("push failed; will retry")
	}
	if errors.Is(serr, ErrLeaseLost) {
		result = "lease_lost"
		log.Warn().Msg("lease ran out during the push; another worker has the job")
	} else if serr != nil {
		s.m.storeErrors.WithLabelValues("settle").Inc()
		log.Warn().Err(serr).Msg("recording the push outcome failed; the job will be claimed again")
	}
	s.m.pushes.WithLabelValues(c.Name(), result).Inc()
	s.States.record(c.Name(), result, err, time.Now())
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
