package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/internal/jobcodec"
)

// EnqueueJob implements crmsync.Store. A job due later waits with the
// retries, in the delayed set, until Claim promotes it.
func (s *Store) EnqueueJob(ctx context.Context, connector string, j crmsync.Job, due time.Time) (bool, error) {
	id := j.ID()
	if id == "" {
		return false, errors.New("enqueue: job without id")
	}
	if err := s.register(ctx, connector); err != nil {
		return false, fmt.Errorf("enqueue: %w", err)
	}
	now := s.opts.Now()
	rec, err := jobcodec.Encode(jobcodec.Record{Activity: j.Activity, Open: j.Open, Task: j.Task, EnqueuedAt: now})
	if err != nil {
		return false, fmt.Errorf("enqueue: %w", err)
	}
	var at int64
	if due.After(now) {
		at = due.UnixMilli()
	}
	k := s.k(connector)
	keys := []string{k.stream(), k.enq(id), k.done(id), k.delayed()}
	if s.opts.WaitReplicas > 0 {
		return s.enqueueReplicated(ctx, keys, rec, at)
	}
	n, err := enqueueScript.Run(ctx, s.rdb, keys, rec, ms(s.opts.MarkerRetention), at, "0").Int()
	if err != nil {
		return false, fmt.Errorf("enqueue: %w", err)
	}
	return n == 1, nil
}

// JobState implements crmsync.Store.
func (s *Store) JobState(ctx context.Context, connector, id string) (crmsync.JobState, error) {
	k := s.k(connector)
	var done, enq *goredis.IntCmd
	var dead *goredis.BoolCmd
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		done = p.Exists(ctx, k.done(id))
		dead = p.HExists(ctx, k.dead(), id)
		enq = p.Exists(ctx, k.enq(id))
		return nil
	})
	if err != nil {
		return crmsync.JobUnknown, fmt.Errorf("job state: %w", err)
	}
	switch {
	case done.Val() == 1:
		return crmsync.JobDelivered, nil
	case dead.Val():
		return crmsync.JobDead, nil
	case enq.Val() == 1:
		return crmsync.JobQueued, nil
	}
	return crmsync.JobUnknown, nil
}
