package bolt

import (
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/callbridge/callbridge/crmsync/store/internal/jobcodec"
)

// AckBatch is how many waiting acks commit without waiting longer.
const AckBatch = ackBatch

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

// ClaimTheOldWay leases up to max ready jobs of connector to worker as
// versions before the lease table did, in the file: each job moves from
// ready to the leased bucket under (lease end, ready key), its value the
// flags, the worker's name and the record, and the index points there. It
// makes the files an upgrade finds.
func ClaimTheOldWay(s *Store, connector, worker string, max int, lease time.Duration) (int, error) {
	n := 0
	err := s.c.update(func(tx *wtx) error {
		n = 0
		c, err := tx.conn(connector, true)
		if err != nil {
			return err
		}
		until := tkey(s.now().Add(lease))
		cur := c.get(bReady).Cursor()
		for k, v := cur.First(); k != nil && n < max; k, v = cur.First() {
			r, err := jobcodec.Decode(v[1:])
			if err != nil {
				return err
			}
			seq, v := append([]byte{}, k...), append([]byte{}, v...)
			if err := c.get(bReady).Delete(k); err != nil {
				return err
			}
			lkey := cat(until, seq)
			if err := c.get(bLeased).Put(lkey, cat([]byte{v[0], byte(len(worker))}, []byte(worker), v[1:])); err != nil {
				return err
			}
			if err := c.get(bIndex).Put([]byte(r.ID()), cat([]byte{locLeased}, lkey)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// Leased is how many jobs of connector the file's leased bucket holds.
func Leased(s *Store, connector string) int {
	n := 0
	_ = s.db.View(func(tx *bbolt.Tx) error {
		c, err := connBuckets(tx, connector, false)
		if err == nil && c.b != nil {
			n = c.get(bLeased).Stats().KeyN
		}
		return nil
	})
	return n
}

// FailCommit makes s ask f before each commit; an error from f stands for
// the commit's own (the transaction is rolled back). Set it while nothing
// is being committed.
func FailCommit(s *Store, f func() error) { s.c.failCommit = f }

// LogLen is how many markers connector's log holds.
func LogLen(s *Store, connector string) int {
	n := 0
	_ = s.db.View(func(tx *bbolt.Tx) error {
		c, err := connBuckets(tx, connector, false)
		if err == nil && c.b != nil {
			n = c.get(bLog).Stats().KeyN
		}
		return nil
	})
	return n
}

// OldMarkers is how many markers connector's enq and done buckets (the
// layout before the log) hold.
func OldMarkers(s *Store, connector string) int {
	n := 0
	_ = s.db.View(func(tx *bbolt.Tx) error {
		c, err := connBuckets(tx, connector, false)
		if err == nil && c.b != nil {
			n = c.get(bEnq).Stats().KeyN + c.get(bDone).Stats().KeyN
		}
		return nil
	})
	return n
}

// MarkTheOldWay writes a marker for id as versions before the log did:
// into the enq (delivered false) or done bucket, keyed by the id, its
// value the time. It makes the files an earlier version leaves behind.
func MarkTheOldWay(s *Store, connector, id string, delivered bool, at time.Time) error {
	return s.c.update(func(tx *wtx) error {
		c, err := tx.conn(connector, true)
		if err != nil {
			return err
		}
		b := c.get(bEnq)
		if delivered {
			b = c.get(bDone)
		}
		return b.Put([]byte(id), tkey(at))
	})
}
