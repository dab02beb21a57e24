package crmsync

import (
	"context"
	"time"
)

// The pipeline hands the intake the activities one batch of events
// finished all at once. A store that can take their start-margin checks
// and their enqueues each as one durable step (the embedded store: one
// transaction and one fsync for all) implements BatchIntake; for any other
// the calls are made one by one, in the same order.

// BatchIntake is implemented by a Store that applies many intake changes
// in one step. Each slice is applied in order, exactly as the single calls
// made one after another would be: a later key sees an earlier key's
// reservation. On an error nothing is known of which changes were made;
// both are idempotent, so the caller asks again for all of them.
type BatchIntake interface {
	// ReserveStarts is ReserveStart for each key; duplicateOf[i] is
	// keys[i]'s answer.
	ReserveStarts(ctx context.Context, keys []StartKey) (duplicateOf []string, err error)
	// EnqueueJobs is EnqueueJob for each job; added[i] is jobs[i]'s answer.
	EnqueueJobs(ctx context.Context, jobs []NewJob) (added []bool, err error)
}

// NewJob is one job to enqueue: EnqueueJob's arguments.
type NewJob struct {
	Connector string
	Job       Job
	Due       time.Time // zero or past: at once
}

// ReserveStarts asks s for every key's start-margin check, in one step
// when s implements BatchIntake.
func ReserveStarts(ctx context.Context, s Store, keys []StartKey) ([]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if b, ok := s.(BatchIntake); ok {
		return b.ReserveStarts(ctx, keys)
	}
	dups := make([]string, len(keys))
	for i, k := range keys {
		d, err := s.ReserveStart(ctx, k)
		if err != nil {
			return nil, err
		}
		dups[i] = d
	}
	return dups, nil
}

// EnqueueJobs enqueues every job in s, in one step when s implements
// BatchIntake.
func EnqueueJobs(ctx context.Context, s Store, jobs []NewJob) ([]bool, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	if b, ok := s.(BatchIntake); ok {
		return b.EnqueueJobs(ctx, jobs)
	}
	added := make([]bool, len(jobs))
	for i, j := range jobs {
		var ok bool
		var err error
		if j.Job.Task == nil && !j.Job.Open && j.Due.IsZero() {
			ok, err = s.Enqueue(ctx, j.Connector, j.Job.Activity) // as the queue stage asked before batches
		} else {
			ok, err = s.EnqueueJob(ctx, j.Connector, j.Job, j.Due)
		}
		if err != nil {
			return nil, err
		}
		added[i] = ok
	}
	return added, nil
}

// Admitter is a Store that takes a batch's start-margin checks and the
// enqueues of the activities that pass them in one step (the embedded
// store: one transaction, so a lone activity costs one commit, not two).
type Admitter interface {
	// Admit reserves keys[i] as ReserveStart would, in order, and unless
	// it is a duplicate enqueues jobs[i]; duplicateOf[i] is keys[i]'s
	// answer. On an error nothing is known of which changes were made.
	Admit(ctx context.Context, keys []StartKey, jobs [][]NewJob) (duplicateOf []string, err error)
}

// Admit asks s for every key's start-margin check and enqueues the jobs of
// the keys that are not duplicates: in one step when s is an Admitter,
// else the checks (ReserveStarts) and then the enqueues (EnqueueJobs).
func Admit(ctx context.Context, s Store, keys []StartKey, jobs [][]NewJob) ([]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if a, ok := s.(Admitter); ok {
		return a.Admit(ctx, keys, jobs)
	}
	dups, err := ReserveStarts(ctx, s, keys)
	if err != nil {
		return nil, err
	}
	var all []NewJob
	for i, d := range dups {
		if d == "" {
			all = append(all, jobs[i]...)
		}
	}
	if _, err := EnqueueJobs(ctx, s, all); err != nil {
		return nil, err
	}
	return dups, nil
}
