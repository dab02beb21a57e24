package bolt

// Commits is how many transactions s has committed.
func Commits(s *Store) uint64 { return s.c.commits.Load() }

// Pending is how many changes wait for s's next transaction.
func Pending(s *Store) int {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return len(s.c.pending)
}

// BeforeCommit makes s run f in each transaction before it commits. Set
// it before any change is asked for.
func BeforeCommit(s *Store, f func()) { s.c.beforeCommit = f }
