package app

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
)

// adminQueue is the delivery queue as the admin API drives it for
// `callbridge queue` (the embedded store is this process's): the store
// itself, with every change an operator makes logged.
type adminQueue struct {
	crmsync.Store
	log zerolog.Logger
}

// Retry implements api.Queue.
func (q adminQueue) Retry(ctx context.Context, id string) error {
	err := q.Store.Retry(ctx, id)
	if err == nil {
		q.log.Info().Str("activity", id).Msg("queue: dead letter queued again by the admin API")
	}
	return err
}

// RetryAll implements api.Queue.
func (q adminQueue) RetryAll(ctx context.Context, connector string) (int, error) {
	n, err := q.Store.RetryAll(ctx, connector)
	if err == nil {
		q.log.Info().Str("connector", connector).Int("dead_letters", n).Msg("queue: dead letters queued again by the admin API")
	}
	return n, err
}

// Purge implements api.Queue.
func (q adminQueue) Purge(ctx context.Context, connector string) (int, error) {
	n, err := q.Store.Purge(ctx, connector)
	if err == nil {
		q.log.Warn().Str("connector", connector).Int("dead_letters", n).Msg("queue: dead letters purged by the admin API; their activities will not be delivered")
	}
	return n, err
}
