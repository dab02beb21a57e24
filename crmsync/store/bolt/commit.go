package bolt

import (
	"sync"
	"sync/atomic"

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

// committer applies changes in shared transactions.
type committer struct {
	db *bbolt.DB

	mu      sync.Mutex
	pending []*change
	closed  bool
	kick    chan struct{} // 1-buffered: changes are pending
	stopped chan struct{}

	commits atomic.Uint64 // transactions committed (tests)
	// beforeCommit, when set, runs in each transaction after its changes
	// and before its commit (tests).
	beforeCommit func()
}

// change is one caller's part of a transaction. Its fn may run more than
// once (when another change of its transaction fails, the transaction is
// rolled back and the others run again without it), so it sets its
// results afresh each time.
type change struct {
	fn   func(*bbolt.Tx) error
	done chan error
}

func newCommitter(db *bbolt.DB) *committer {
	c := &committer{db: db, kick: make(chan struct{}, 1), stopped: make(chan struct{})}
	go c.run()
	return c
}

// update applies fn in the next shared transaction and returns once that
// transaction is committed (nil) or fn's own error, or the commit's.
func (c *committer) update(fn func(*bbolt.Tx) error) error {
	return c.updateAll([]func(*bbolt.Tx) error{fn})
}

// updateAll applies fns, in order, in the next shared transaction (one
// commit for all of them) and returns the first error of any.
func (c *committer) updateAll(fns []func(*bbolt.Tx) error) error {
	chs := make([]*change, len(fns))
	for i, fn := range fns {
		chs[i] = &change{fn: fn, done: make(chan error, 1)}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return crmsync.ErrClosed
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
	for {
		<-c.kick
		for {
			c.mu.Lock()
			batch, closed := c.pending, c.closed
			c.pending = nil
			c.mu.Unlock()
			if len(batch) == 0 {
				if closed {
					return
				}
				break
			}
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
		failed := -1
		err := c.db.Update(func(tx *bbolt.Tx) error {
			for i, ch := range batch {
				if err := ch.fn(tx); err != nil {
					failed = i
					return err
				}
			}
			if c.beforeCommit != nil {
				c.beforeCommit()
			}
			return nil
		})
		if failed >= 0 {
			alone = append(alone, batch[failed])
			batch = append(batch[:failed:failed], batch[failed+1:]...)
			continue
		}
		if err == nil {
			c.commits.Add(1)
		}
		for _, ch := range batch {
			ch.done <- err
		}
		break
	}
	for _, ch := range alone {
		err := c.db.Update(ch.fn)
		if err == nil {
			c.commits.Add(1)
		}
		ch.done <- err
	}
}
