package bolt

import (
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/callbridge/callbridge/crmsync"
)

// Every change goes through one committer: the changes asked for while a
// commit is on its way to the disk are applied together in the next
// transaction, and that transaction's one commit (bbolt syncs the file
// before it returns) answers all of them. Nothing waits for a timer: a
// lone change is committed at once, and under load each commit takes in
// whatever arrived during the last one, so the queue stage's Enqueue and
// the workers' Acks share their fsyncs (a Claim that only leases writes
// nothing: lease.go). A change's caller
// gets its answer only once its transaction is durable.
//
// An acknowledgement is the one change that may wait for company: a
// delivered job is already out of the workers' way (its lease holds it
// until its commit), and nothing downstream waits for the ack, so acks
// wait up to ackLinger for the next enqueue's commit or for each other,
// or until ackBatch of them wait. Under load that turns one commit per
// few pushes into one per ackLinger (each bbolt commit is two fdatasyncs
// and a few dozen pages written, the largest cost of delivery), and a
// lone ack still returns within ackLinger. Everything else commits at
// once and takes the waiting acks with it.
//
// 50 ms rather than 10: under the race kit's load the acks made most of
// the commits, 600 a run at 10 ms against 180 at 50 (a tenth less CPU for
// the whole daemon). What a longer linger costs: an ack becomes durable
// later, so a crash repeats up to 50 ms of deliveries rather than 10
// (delivery is at least once, each push carrying its idempotency key);
// and a worker that fills its share of outcomes in flight (crmsync's
// settleBound) waits for the commit, which ackBatch bounds for the
// default worker counts.

// ackLinger is how long an ack may wait for other changes to share its
// commit by default (Options.AckLinger); ackBatch pending acks commit
// without waiting longer.
const (
	ackLinger = 50 * time.Millisecond
	ackBatch  = 256
)

// committer applies changes in shared transactions.
type committer struct {
	db *bbolt.DB
	m  *markers // the marker table, changed as the commits change the file

	linger time.Duration // how long lazy changes may wait (ackLinger)

	mu      sync.Mutex
	pending []*change
	eager   bool      // a pending change must not wait
	since   time.Time // when the oldest pending lazy change arrived
	closed  bool
	kick    chan struct{} // 1-buffered: changes are pending
	stopped chan struct{}

	commits atomic.Uint64 // transactions committed (tests)
	// beforeCommit, when set, runs in each transaction after its changes
	// and before its commit (tests).
	beforeCommit func()
	// failCommit, when set, is asked before each commit; its error stands
	// for the commit's (a failed write or sync): the transaction is rolled
	// back (tests).
	failCommit func() error
}

// wtx is a write transaction of the committer's. The changes it holds
// share each connector's buckets, looked up once per transaction.
type wtx struct {
	*bbolt.Tx
	conns map[string]conn
	m     *markers
	marks map[markKey]byte // the table's changes, applied once the commit is durable
}

// conn is connBuckets for this transaction, remembered.
func (tx *wtx) conn(connector string, create bool) (conn, error) {
	if c, ok := tx.conns[connector]; ok {
		return c, nil
	}
	c, err := connBuckets(tx.Tx, connector, create)
	if err != nil || c.b == nil {
		return c, err
	}
	if tx.conns == nil {
		tx.conns = map[string]conn{}
	}
	tx.conns[connector] = c
	return c, nil
}

// change is one caller's part of a transaction. Its fn may run more than
// once (when another change of its transaction fails, the transaction is
// rolled back and the others run again without it), so it sets its
// results afresh each time.
type change struct {
	fn   func(*wtx) error
	done chan error
}

func newCommitter(db *bbolt.DB, m *markers, linger time.Duration) *committer {
	c := &committer{db: db, m: m, linger: linger, kick: make(chan struct{}, 1), stopped: make(chan struct{})}
	go c.run()
	return c
}

// update applies fn in the next shared transaction and returns once that
// transaction is committed (nil) or fn's own error, or the commit's.
func (c *committer) update(fn func(*wtx) error) error {
	return c.apply([]func(*wtx) error{fn}, false)
}

// updateLazy is update for a change that may wait up to the linger for
// others to share its commit (acks).
func (c *committer) updateLazy(fn func(*wtx) error) error {
	return c.apply([]func(*wtx) error{fn}, true)
}

// updateAll applies fns, in order, in the next shared transaction (one
// commit for all of them) and returns the first error of any.
func (c *committer) updateAll(fns []func(*wtx) error) error {
	return c.apply(fns, false)
}

func (c *committer) apply(fns []func(*wtx) error, lazy bool) error {
	chs := make([]*change, len(fns))
	for i, fn := range fns {
		chs[i] = &change{fn: fn, done: make(chan error, 1)}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return crmsync.ErrClosed
	}
	if !lazy {
		c.eager = true
	} else if !c.eager && len(c.pending) == 0 {
		c.since = time.Now()
	}
	c.pending = append(c.pending, chs...)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	var first error
	for _, ch := range chs {
		if err := <-ch.done; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// close commits what is pending and stops the committer.
func (c *committer) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.stopped
		return
	}
	c.closed = true
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	<-c.stopped
}

func (c *committer) run() {
	defer close(c.stopped)
	var linger *time.Timer
	for {
		<-c.kick
		for {
			c.mu.Lock()
			batch, closed := c.pending, c.closed
			if len(batch) == 0 {
				c.mu.Unlock()
				if closed {
					return
				}
				break
			}
			if wait := c.linger - time.Since(c.since); !c.eager && !closed && len(batch) < ackBatch && wait > 0 {
				// Only acks are waiting: give others until the linger
				// is up to join them, unless something arrives that
				// must not wait (a kick).
				c.mu.Unlock()
				if linger == nil {
					linger = time.NewTimer(wait)
				} else {
					linger.Reset(wait)
				}
				select {
				case <-c.kick:
				case <-linger.C:
				}
				linger.Stop()
				continue
			}
			c.pending, c.eager = nil, false
			c.mu.Unlock()
			c.commit(batch)
		}
	}
}

// commit applies batch in one transaction. A change whose fn fails is
// taken out (the transaction is rolled back and the rest run again) and
// then run alone, so its error is its own and it is not lost to the
// others' failure nor they to its.
func (c *committer) commit(batch []*change) {
	var alone []*change
	for len(batch) > 0 {
		failed, err := c.run1(batch)
		if failed >= 0 {
			alone = append(alone, batch[failed])
			batch = append(batch[:failed:failed], batch[failed+1:]...)
			continue
		}
		for _, ch := range batch {
			ch.done <- err
		}
		break
	}
	for _, ch := range alone {
		_, err := c.run1([]*change{ch})
		ch.done <- err
	}
}

// run1 runs batch's changes in one write transaction and commits it. It
// returns the index of the change that failed (the transaction rolled
// back), or -1 and the commit's outcome.
func (c *committer) run1(batch []*change) (int, error) {
	btx, err := c.db.Begin(true)
	if err != nil {
		return -1, err
	}
	tx := &wtx{Tx: btx, m: c.m}
	for i, ch := range batch {
		if err := ch.fn(tx); err != nil {
			_ = btx.Rollback()
			if len(batch) == 1 {
				return -1, err
			}
			return i, err
		}
	}
	if c.beforeCommit != nil {
		c.beforeCommit()
	}
	if err := c.finish(tx); err != nil {
		return -1, err
	}
	c.commits.Add(1)
	return -1, nil
}

// finish commits tx and then applies its changes to the marker table,
// holding the table's lock across both, so that a reader of the table and
// the file (JobState: the lock, then a read transaction) sees both before
// or both after.
func (c *committer) finish(tx *wtx) error {
	if c.m != nil {
		c.m.mu.Lock()
		defer c.m.mu.Unlock()
	}
	if c.failCommit != nil {
		if err := c.failCommit(); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if c.m != nil {
		c.m.apply(tx.marks)
	}
	return nil
}
