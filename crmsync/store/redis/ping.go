package redis

import "context"

// Ping checks that Redis answers (readiness, the watchdog).
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }
