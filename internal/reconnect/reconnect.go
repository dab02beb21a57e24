package reconnect

import (
	"context"
	"time"
)

// Session is one connection. synced says it got far enough (logged in and
// reconciled) that the next failure starts the backoff over.
type Session func(ctx context.Context) (synced bool, err error)

// Policy tunes Loop.
type Policy struct {
	Min, Max time.Duration
	// Fatal, if set, ends Loop with a session's error instead of retrying
	// (refused credentials: retrying cannot help and may get the address
	// blocked).
	Fatal func(error) bool
	// Retrying is told about each failed session before the wait.
	Retrying func(err error, attempt int, wait time.Duration)
}

// Loop runs sessions until ctx is done (then it returns nil) or one fails
// fatally (then it returns that error).
func Loop(ctx context.Context, p Policy, session Session) error {
	b := Backoff{Min: p.Min, Max: p.Max}
	for attempt := 1; ; attempt++ {
		synced, err := session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if p.Fatal != nil && p.Fatal(err) {
			return err
		}
		if synced {
			attempt = 1
		}
		// Jitter: bridges restarting together do not reconnect in step.
		wait := b.Wait(attempt)
		if p.Retrying != nil {
			p.Retrying(err, attempt, wait)
		}
		if !Sleep(ctx, wait) {
			return nil
		}
	}
}
