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
