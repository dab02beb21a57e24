package pipeline

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/reconnect"
)

// Admit runs the policy and the queue stages as one for a batch: the
// policy's start-margin checks and the enqueues of the activities that
// pass them are one store step (crmsync.Admit; the embedded store: one
// transaction), so a lone activity costs one commit on its way to the
// queue, not two. An activity that waits for its wrap-up for a connector
// is queued for it on its own afterwards, as the queue stage does.
type Admit struct {
	Policy Policy
	Queue  Queue
}

// Handle implements Stage: the policy, then the queue.
func (s Admit) Handle(ctx context.Context, a bridge.Activity) bool {
	return s.Policy.Handle(ctx, a) && s.Queue.Handle(ctx, a)
}

// HandleBatch implements BatchStage.
func (s Admit) HandleBatch(ctx context.Context, as []bridge.Activity, pass []bool) {
	if !anyPass(pass) {
		return
	}
	type pending struct {
		i int
		c string
	}
	var open []pending
	jobs := make([][]crmsync.NewJob, len(as))
	// Every activity's jobs in one array, not one per activity.
	all := make([]crmsync.NewJob, 0, len(as)*len(s.Queue.Connectors))
	for i := range as {
		if !pass[i] || skipThis() {
			continue
		}
		start := len(all)
		for _, c := range s.Queue.Connectors {
			if s.Queue.Wrapups != nil && s.Queue.Wrapups.Pending(c, as[i]) {
				open = append(open, pending{i, c})
				continue
			}
			all = append(all, crmsync.NewJob{Connector: c, Job: crmsync.Job{Activity: as[i]}})
		}
		if len(all) > start {
			jobs[i] = all[start:len(all):len(all)]
		}
	}
	keep := append([]bool(nil), pass...)
	err := reconnect.Retry(ctx, storeRetry, func(ctx context.Context) error {
		copy(pass, keep)
		return s.Policy.Policy.AdmitBatch(ctx, s.Queue.Store, as, pass, func(i int) []crmsync.NewJob { return jobs[i] })
	}, notYetBatch(s.Policy.Log, as, keep))
	if err != nil {
		for i, a := range as {
			if keep[i] {
				s.Policy.Log.Error().Err(err).Str("call_id", a.CallID).Str("user", a.User).Msg("activity kept in sink.file only")
			}
		}
		clear(pass)
		return
	}
	for _, p := range open {
		if pass[p.i] && !s.Queue.one(ctx, p.c, as[p.i]) {
			pass[p.i] = false
		}
	}
}

// anyPass reports whether any activity is still going.
func anyPass(pass []bool) bool {
	for _, p := range pass {
		if p {
			return true
		}
	}
	return false
}

// notYetBatch logs a batch's intake retry, naming its first activity. The
// logger is made at the first retry: most batches never need one.
func notYetBatch(log zerolog.Logger, as []bridge.Activity, pass []bool) func(error, int, time.Duration) {
	var logRetry func(error, int, time.Duration)
	return func(err error, attempt int, wait time.Duration) {
		if logRetry == nil {
			for i, a := range as {
				if pass[i] {
					logRetry = notYet(log.With().Int("batch", len(as)).Logger(), a)
					break
				}
			}
			if logRetry == nil {
				return
			}
		}
		logRetry(err, attempt, wait)
	}
}
