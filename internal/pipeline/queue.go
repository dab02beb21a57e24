package pipeline

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/reconnect"
)

// Queue is the queue stage: one durable job per connector, in the store,
// before the source reads its next event. Enqueueing is idempotent on the
// activity id, so it is retried while the store is unreachable. With
// Wrapups, an activity that waits for its wrap-up is queued open, with its
// completion (wrapup.complete_on_wrap).
type Queue struct {
	Store      crmsync.Store
	Connectors []string
	Wrapups    *crmsync.Wrapups // may be nil
	Log        zerolog.Logger
}

// Handle implements Stage.
func (s Queue) Handle(ctx context.Context, a bridge.Activity) bool {
	if skipThis() {
		return true
	}
	for _, c := range s.Connectors {
		if !s.one(ctx, c, a) {
			return false
		}
	}
	return true
}

// one queues a for connector c, waiting out an unreachable store.
func (s Queue) one(ctx context.Context, c string, a bridge.Activity) bool {
	err := reconnect.Retry(ctx, storeRetry, func(ctx context.Context) error {
		var err error
		if s.Wrapups != nil && s.Wrapups.Pending(c, a) {
			err = s.Wrapups.Enqueue(ctx, c, a)
		} else {
			_, err = s.Store.Enqueue(ctx, c, a)
		}
		if err != nil {
			return fmt.Errorf("enqueue for %s: %w", c, err)
		}
		return nil
	}, notYet(s.Log, a))
	if err != nil {
		s.Log.Error().Err(err).Str("call_id", a.CallID).Str("user", a.User).Msg("activity kept in sink.file only")
		return false
	}
	return true
}

// HandleBatch implements BatchStage: the batch's jobs for every connector
// in one store step. An activity that waits for its wrap-up is queued
// for that connector on its own (Wrapups.Enqueue), after the batch.
func (s Queue) HandleBatch(ctx context.Context, as []bridge.Activity, pass []bool) {
	type pending struct {
		i int
		c string
	}
	var jobs []crmsync.NewJob
	var open []pending
	for i, a := range as {
		if !pass[i] || skipThis() {
			continue
		}
		for _, c := range s.Connectors {
			if s.Wrapups != nil && s.Wrapups.Pending(c, a) {
				open = append(open, pending{i, c})
				continue
			}
			jobs = append(jobs, crmsync.NewJob{Connector: c, Job: crmsync.Job{Activity: a}})
		}
	}
	if len(jobs) > 0 {
		err := reconnect.Retry(ctx, storeRetry, func(ctx context.Context) error {
			if _, err := crmsync.EnqueueJobs(ctx, s.Store, jobs); err != nil {
				return fmt.Errorf("enqueue: %w", err)
			}
			return nil
		}, notYetBatch(s.Log, as, pass))
		if err != nil {
			for i, a := range as {
				if pass[i] {
					s.Log.Error().Err(err).Str("call_id", a.CallID).Str("user", a.User).Msg("activity kept in sink.file only")
				}
			}
			clear(pass)
			return
		}
	}
	for _, p := range open {
		if pass[p.i] && !s.one(ctx, p.c, as[p.i]) {
			pass[p.i] = false
		}
	}
}
