package redis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
)

// Redis replicates asynchronously: a master answers a write before any
// replica has it, and a failover (Sentinel, Cluster) promotes a replica
// that may lack the last writes the old master answered. For the delivery
// queue that would be an activity lost after intake counted it as kept and
// let the source read on (its journal forgets the call). With WaitReplicas
// the enqueue is followed, on the same connection, by WAIT, and only
// counts once that many replicas have it; otherwise it fails and intake
// retries, idempotently, until it does. A retry that finds the activity
// already queued still writes (enqueueScript's touch) so its WAIT covers
// the first write too: replication is one ordered stream.

// ErrNotReplicated: fewer replicas than Options.WaitReplicas acknowledged
// a write within Options.WaitTimeout.
var ErrNotReplicated = errors.New("not acknowledged by enough replicas")

// enqueueReplicated runs the enqueue and then a WAIT on one connection to
// the master that owns the keys.
func (s *Store) enqueueReplicated(ctx context.Context, keys []string, rec []byte, due int64) (bool, error) {
	var cl *goredis.Client
	switch r := s.rdb.(type) {
	case *goredis.Client: // one server, or the master Sentinel names
		cl = r
	case *goredis.ClusterClient:
		// WAIT has no key: it must go to the master that wrote.
		node, err := r.MasterForKey(ctx, keys[0])
		if err != nil {
			return false, fmt.Errorf("enqueue: %w", err)
		}
		cl = node
	default:
		return false, errors.New("enqueue: waiting for replicas needs a client of one server, Sentinel or Cluster")
	}
	conn := cl.Conn()
	defer conn.Close()
	n, err := enqueueScript.Run(ctx, conn, keys, rec, ms(s.opts.MarkerRetention), due, "1").Int()
	if err != nil {
		if cc, ok := s.rdb.(*goredis.ClusterClient); ok {
			// A slot that moved (a failover in the cluster) is found on
			// the next try.
			cc.ReloadState(ctx)
		}
		return false, fmt.Errorf("enqueue: %w", err)
	}
	got, err := conn.Wait(ctx, s.opts.WaitReplicas, s.opts.WaitTimeout).Result()
	if err != nil {
		return false, fmt.Errorf("enqueue: wait: %w", err)
	}
	if got < int64(s.opts.WaitReplicas) {
		return false, fmt.Errorf("enqueue: %w: %d of %d within %s", ErrNotReplicated, got, s.opts.WaitReplicas, s.opts.WaitTimeout)
	}
	return n == 1, nil
}
