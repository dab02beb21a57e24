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
	added, err := s.EnqueueJobs(ctx, []crmsync.NewJob{{Connector: connector, Job: j, Due: due}})
	if err != nil {
		return false, err
	}
	return added[0], nil
}

// EnqueueJobs implements crmsync.BatchIntake: every job in one
// transaction.
func (s *Store) EnqueueJobs(ctx context.Context, jobs []crmsync.NewJob) ([]bool, error) {
	now := s.now()
	added := make([]bool, len(jobs))
	fns := make([]func(*wtx) error, len(jobs))
	for i, nj := range jobs {
		fn, err := s.enqueue(nj, now, &added[i])
		if err != nil {
			return nil, err
		}
		fns[i] = fn
	}
	if err := s.c.updateAll(fns); err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	for i, nj := range jobs {
		if added[i] && !nj.Due.After(now) {
			s.notify()
			break
		}
	}
	return added, nil
}

// enqueue prepares one job's enqueue as a change, setting *added.
func (s *Store) enqueue(nj crmsync.NewJob, now time.Time, added *bool) (func(*wtx) error, error) {
	j := nj.Job
	if j.ID() == "" {
		return nil, errors.New("enqueue: job without id")
	}
	rec, err := jobcodec.Encode(jobcodec.Record{Activity: j.Activity, Open: j.Open, Task: j.Task, EnqueuedAt: now})
	if err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	later := nj.Due.After(now)
	return func(tx *wtx) error {
		*added = false
		c, err := tx.conn(nj.Connector, true)
		if err != nil {
			return err
		}
		id := []byte(j.ID())
		if tx.marker(nj.Connector, id) != 0 {
			return nil
		}
		seq, _ := c.get(bReady).NextSequence()
		key, bucket, loc := u64(seq), c.get(bReady), byte(locReady)
		if later {
			key, bucket, loc = cat(tkey(nj.Due), u64(seq)), c.get(bDelayed), locDelayed
		}
		if err := bucket.Put(key, cat([]byte{0}, rec)); err != nil {
			return err
		}
		if err := c.get(bIndex).Put(id, cat([]byte{loc}, key)); err != nil {
			return err
		}
		*added = true
		return tx.mark(nj.Connector, c, markEnq, id, tkey(now))
	}, nil
}

// JobState implements crmsync.Store.
func (s *Store) JobState(ctx context.Context, connector, id string) (crmsync.JobState, error) {
	st := crmsync.JobUnknown
	// The table's lock, then the file: a commit holds the lock while it
	// lands and the table follows it (committer.finish), so the two agree.
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	kind := s.m.kind(connector, hashID([]byte(id)))
	err := s.db.View(func(tx *bbolt.Tx) error {
		c, err := connBuckets(tx, connector, false)
		if err != nil || c.b == nil {
			return err
		}
		k := []byte(id)
		switch {
		case kind == markDone:
			st = crmsync.JobDelivered
		case c.get(bDead).Get(k) != nil:
			st = crmsync.JobDead
		case c.get(bIndex).Get(k) != nil || kind == markEnq:
			st = crmsync.JobQueued
		}
		return nil
	})
	return st, err
}
