package pipeline

import (
	"context"
	"fmt"
	"time"
)

// Alive reports whether every source's engine loop is alive: each takes
// its next event within timeout. An engine stuck in an event (a stage
// that never returns) holds its source's lock, and the probe cannot get
// it. An idle source, waiting for the PBX, is alive.
func (p *Path) Alive(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, s := range p.sources {
		if !lockWithin(ctx, s) {
			return fmt.Errorf("%s engine: stuck in an event for over %s", s.name, timeout)
		}
		s.mu.Unlock()
	}
	return nil
}

// probeEvery is how often a busy lock is tried again.
const probeEvery = 5 * time.Millisecond

func lockWithin(ctx context.Context, s *source) bool {
	for !s.mu.TryLock() {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(probeEvery):
		}
	}
	return true
}
