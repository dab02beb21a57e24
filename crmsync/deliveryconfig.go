package crmsync

import (
	"errors"
	"fmt"
	"time"

	"github.com/callbridge/callbridge/internal/reconnect"
)

// DeliveryConfig tunes the delivery workers.
type DeliveryConfig struct {
	// Concurrency is the number of pushes in flight per connector. The
	// default, 8, is what keeps a local webhook fed from either store (a
	// push's round trip and the store's are overlapped, not added); a CRM
	// connector still caps its own requests with its max_concurrency and
	// waits out the CRM's limits, so the CRM sees no more than before.
	Concurrency int `yaml:"concurrency"`
	// Lease is how long a worker holds a job before others may take it
	// over; it must outlast PushTimeout.
	Lease time.Duration `yaml:"lease"`
	// PushTimeout bounds one push (the connector may bound it tighter).
	PushTimeout time.Duration `yaml:"push_timeout"`
	// BackoffMin and BackoffMax bound the exponential backoff between
	// attempts (with jitter). A Retry-After from the CRM overrides it.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// MaxAttempts moves a job to the dead letters after this many failed
	// attempts. 0: retry until delivered (the backoff caps the rate).
	MaxAttempts int `yaml:"max_attempts"`
	// DrainTimeout is how long pushes in flight may finish on shutdown. It
	// must be shorter than systemd's TimeoutStopSec.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// PollInterval is how often an idle worker looks for due retries.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// DefaultDeliveryConfig is the delivery tuning of a fresh install.
func DefaultDeliveryConfig() DeliveryConfig {
	return DeliveryConfig{
		Concurrency:  8,
		Lease:        2 * time.Minute,
		PushTimeout:  30 * time.Second,
		BackoffMin:   time.Second,
		BackoffMax:   10 * time.Minute,
		DrainTimeout: 10 * time.Second,
		PollInterval: time.Second,
	}
}

// Validate returns every problem, joined, naming keys relative to the
// delivery section.
func (c DeliveryConfig) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		bad("concurrency", "want 1..1024, got %d", c.Concurrency)
	}
	if c.PushTimeout <= 0 {
		bad("push_timeout", "must be positive")
	}
	if c.Lease <= c.PushTimeout {
		bad("lease", "must be longer than push_timeout (%s)", c.PushTimeout)
	}
	if c.BackoffMin <= 0 {
		bad("backoff_min", "must be positive")
	}
	if c.BackoffMax < c.BackoffMin {
		bad("backoff_max", "must not be below backoff_min (%s)", c.BackoffMin)
	}
	if c.MaxAttempts < 0 {
		bad("max_attempts", "must not be negative")
	}
	if c.DrainTimeout < 0 {
		bad("drain_timeout", "must not be negative")
	}
	if c.PollInterval <= 0 {
		bad("poll_interval", "must be positive")
	}
	return errors.Join(errs...)
}

// Backoff is the retry schedule BackoffMin and BackoffMax describe:
// doubling per failed attempt, with "equal jitter" (half fixed, half
// random) so that retries of many jobs after an outage spread out but
// still grow.
func (c DeliveryConfig) Backoff() reconnect.Backoff {
	return reconnect.Backoff{Min: c.BackoffMin, Max: c.BackoffMax}
}

// maxBacklogShare bounds the jobs a worker takes at once from a backlog.
const maxBacklogShare = 4

// backlogShare is how many jobs one worker takes at once when there is a
// backlog, pushed one after another and their outcomes recorded
// together: so many that a claim and a commit of outcomes serve several
// pushes, and so few that the last of them is pushed before its lease
// can run out even when every push before it took the whole push_timeout.
func (c DeliveryConfig) backlogShare() int {
	return max(1, min(maxBacklogShare, int(c.Lease/c.PushTimeout)-1))
}
