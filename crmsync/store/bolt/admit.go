package bolt

import (
	"context"
	"errors"
	"fmt"

	"github.com/callbridge/callbridge/crmsync"
)

// Admit implements crmsync.Admitter: every key's start-margin check and,
// for each that is no duplicate, its jobs' enqueues, in one transaction.
func (s *Store) Admit(ctx context.Context, keys []crmsync.StartKey, jobs [][]crmsync.NewJob) ([]string, error) {
	if len(jobs) != len(keys) {
		return nil, errors.New("admit: a list of jobs for each key")
	}
	now := s.now()
	dups := make([]string, len(keys))
	var fns []func(*wtx) error
	due := false
	for i, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, err
		}
		fns = append(fns, reserve(k, &dups[i]))
		for _, nj := range jobs[i] {
			var added bool
			fn, err := s.enqueue(nj, now, &added)
			if err != nil {
				return nil, err
			}
			dup := &dups[i]
			fns = append(fns, func(tx *wtx) error {
				if *dup != "" {
					return nil // a duplicate: its reservation above said so, in this transaction
				}
				return fn(tx)
			})
			due = due || !nj.Due.After(now)
		}
	}
	if err := s.c.updateAll(fns); err != nil {
		return nil, fmt.Errorf("admit: %w", err)
	}
	if due {
		s.notify()
	}
	return dups, nil
}
