package pipeline

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/reconnect"
)

// Policy is the policy stage: the CRM policy accepts the activity or drops
// it (counted by reason: privacy, duration limit, start margin, ...). The
// start-margin rule asks the store; while the store is unreachable (a
// Redis restart) the stage waits for it rather than lose the activity:
// the decision is idempotent on the activity id.
type Policy struct {
	Policy *crmsync.Policy
	Log    zerolog.Logger
}

// storeRetry is how intake waits out an unreachable store.
var storeRetry = reconnect.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}

// Handle implements Stage.
func (s Policy) Handle(ctx context.Context, a bridge.Activity) bool {
	var accepted bool
	err := reconnect.Retry(ctx, storeRetry, func(ctx context.Context) error {
		ok, _, err := s.Policy.Decide(ctx, a)
		accepted = ok
		return err
	}, notYet(s.Log, a))
	if err != nil {
		s.Log.Error().Err(err).Str("call_id", a.CallID).Str("user", a.User).Msg("activity kept in sink.file only")
		return false
	}
	return accepted
}

// notYet logs an intake retry.
func notYet(log zerolog.Logger, a bridge.Activity) func(error, int, time.Duration) {
	return func(err error, attempt int, _ time.Duration) {
		log.Warn().Err(err).Str("call_id", a.CallID).Str("user", a.User).Int("attempt", attempt).
			Msg("activity not queued yet, retrying")
	}
}
