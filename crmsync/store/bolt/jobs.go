package bolt

import (
	"context"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/internal/jobcodec"
)

// EnqueueJob implements crmsync.Store.
func (s *Store) EnqueueJob(ctx context.Context, connector string, j crmsync.Job, due time.Time) (bool, error) {
	if j.ID() == "" {
		return false, errors.New("enqueue: job without id")
	}
	now := s.now()
	rec, err := jobcodec.Encode(jobcodec.Record{Activity: j.Activity, Open: j.Open, Task: j.Task, EnqueuedAt: now})
	if err != nil {
		return false, fmt.Errorf("enqueue: %w", err)
	}
	later := due.After(now)
	var added bool
	err = s.c.update(func(tx *bbolt.Tx) error {
		added = false
		c, err := connBuckets(tx, connector, true)
		if err != nil {
			return err
		}
		id := []byte(j.ID())
		if c.get(bEnq).Get(id) != nil || c.get(bDone).Get(id) != nil {
			return nil
		}
		seq, _ := c.get(bReady).NextSequence()
		key, bucket, loc := u64(seq), c.get(bReady), byte(locReady)
		if later {
			key, bucket, loc = cat(tkey(due), u64(seq)), c.get(bDelayed), locDelayed
		}
		if err := bucket.Put(key, cat([]byte{0}, rec)); err != nil {
			return err
		}
		if err := c.get(bIndex).Put(id, cat([]byte{loc}, key)); err != nil {
			return err
		}
		added = true
		return c.get(bEnq).Put(id, tkey(now))
	})
	if err != nil {
		return false, fmt.Errorf("enqueue: %w", err)
	}
	if added && !later {
		s.notify()
	}
	return added, nil
}

// JobState implements crmsync.Store.
func (s *Store) JobState(ctx context.Context, connector, id string) (crmsync.JobState, error) {
	st := crmsync.JobUnknown
	err := s.db.View(func(tx *bbolt.Tx) error {
		c, err := connBuckets(tx, connector, false)
		if err != nil || c.b == nil {
			return err
		}
		k := []byte(id)
		switch {
		case c.get(bDone).Get(k) != nil:
			st = crmsync.JobDelivered
		case c.get(bDead).Get(k) != nil:
			st = crmsync.JobDead
		case c.get(bIndex).Get(k) != nil || c.get(bEnq).Get(k) != nil:
			st = crmsync.JobQueued
		}
		return nil
	})
	return st, err
}
