package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/internal/jobcodec"
)

// Leases live in memory. A bbolt file is held by one process at a time
// (bbolt locks it), so a lease never has to outlive the process that took
// it: once that process is gone, every job it did not ack must be
// claimable again anyway. A claimed job therefore stays where it was, in
// the ready bucket, and the worker's hold on it is an entry in the lease
// table, keyed by the job's ready key (a sequence number: the bucket is in
// the order jobs became ready, and no key is used twice). A claim that
// only leases reads the file and writes nothing, so it waits for no
// fsync; Ack, Nack and DeadLetter are the durable steps, as before.
//
// The table and the file must agree where a claim looks at both. Claim
// and Stats hold the table's mutex while they read the file, and Ack
// forgets a lease only once its commit is durable, so a claim sees either
// the job's lease or no job. Nack and DeadLetter check the lease (in the
// table) and the job's place (in the file) inside their transaction, as
// one step, and pin the lease until the transaction is through, so that
// a lease running out meanwhile is not taken over for a job about to
// move.
//
// Lock order: the table's mutex, then a read transaction (Claim, Stats);
// or the write transaction, then the mutex (Nack, DeadLetter). No read
// transaction waits for the mutex: a writer growing the file waits for
// every reader, and a reader waiting for the mutex could deadlock it.

// lease is one worker's hold on the job at one ready key.
type lease struct {
	n      uint64 // its number, in its handle: a later lease on the same job has another
	until  time.Time
	pinned bool // its Nack or DeadLetter is being committed: not to be taken over
}

// leases is the lease table, by connector and ready key.
type leases struct {
	mu sync.Mutex
	// last is the last lease's number. Each process starts at a random
	// one, so that a handle from the process before (its Ack or Nack
	// still on its way) names no lease of this one.
	last uint64
	held map[string]map[uint64]*lease
	// boot is, by connector, the last ready key when the file was
	// opened: jobs up to it were there before this process, which cannot
	// know whether the process before it was pushing one when it ended.
	boot map[string]uint64
}

func newLeases(boot map[string]uint64) *leases {
	return &leases{last: rand.Uint64(), held: map[string]map[uint64]*lease{}, boot: boot}
}

// handle names lease n on the job at ready key seq.
func handle(seq, n uint64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], seq)
	binary.BigEndian.PutUint64(b[8:], n)
	return hex.EncodeToString(b[:])
}

func parseHandle(h string) (seq, n uint64, err error) {
	b, err := hex.DecodeString(h)
	if err != nil {
		return 0, 0, fmt.Errorf("bad job handle: %w", err)
	}
	if len(b) != 16 {
		return 0, 0, crmsync.ErrLeaseLost // not one of this process's leases
	}
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), nil
}

// Claim implements crmsync.Store. Jobs come in the order they became
// ready, oldest first; a job whose lease ran out comes again with
// Reclaimed set. So may a job that was in the file when it was opened, on
// its first claim: the process that had the file before may have leased
// and pushed it. A claim that only leases writes nothing to the file.
func (s *Store) Claim(ctx context.Context, req crmsync.ClaimRequest) ([]crmsync.Job, error) {
	if req.Max <= 0 || req.Lease <= 0 {
		return nil, errors.New("claim: Max and Lease must be positive")
	}
	deadline := time.Now().Add(req.Wait)
	for {
		wake, closed := s.waiter()
		if closed {
			return nil, crmsync.ErrClosed
		}
		jobs, next, err := s.claim(req)
		if err != nil || len(jobs) > 0 || req.Wait <= 0 {
			return jobs, err
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return nil, nil
		}
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(s.now()), time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// claim leases what is due; next is when the earliest delayed job or
// lease falls due, zero if none.
func (s *Store) claim(req crmsync.ClaimRequest) (jobs []crmsync.Job, next time.Time, err error) {
	now := s.now()
	s.maybePrune(now)
	sc, err := s.take(req, now, req.Max)
	if err != nil || !sc.mustWrite() {
		return sc.jobs, sc.next, err
	}
	// What only a write does: create the connector's buckets, move due
	// retries to ready, set aside records this version cannot read. Then
	// lease what that made ready, after what was ready before.
	err = s.c.update(func(tx *wtx) error { return fixUp(tx, req.Connector, now, sc.bad) })
	if err != nil || len(sc.jobs) == req.Max {
		if len(sc.jobs) > 0 {
			err = nil // the write is tried again by the next claim
		}
		return sc.jobs, sc.next, err
	}
	more, err := s.take(req, now, req.Max-len(sc.jobs))
	if len(sc.jobs) > 0 {
		err = nil
	}
	return append(sc.jobs, more.jobs...), more.next, err
}

// scan is what one look at a connector's queue found.
type scan struct {
	jobs    []crmsync.Job // leased
	next    time.Time     // when the earliest delayed job or lease not due yet falls due
	missing bool          // the connector has no buckets yet
	due     bool          // a delayed job is due: it must move to ready first
	bad     [][]byte      // ready keys whose records this version cannot read
}

func (sc scan) mustWrite() bool { return sc.missing || sc.due || len(sc.bad) > 0 }

// take leases up to max ready jobs of req.Connector, oldest first, taking
// over leases that ran out. It reads the file and writes nothing.
func (s *Store) take(req crmsync.ClaimRequest, now time.Time, max int) (sc scan, err error) {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	err = s.db.View(func(tx *bbolt.Tx) error {
		c, err := connBuckets(tx, req.Connector, false)
		if err != nil || c.b == nil {
			sc.missing = err == nil
			return err
		}
		if k, _ := c.get(bDelayed).Cursor().First(); k != nil {
			if at := timeOf(k[:8]); at.After(now) {
				sc.next = at
			} else {
				sc.due = true
			}
		}
		held, boot := l.held[req.Connector], l.boot[req.Connector]
		cur := c.get(bReady).Cursor()
		for k, v := cur.First(); k != nil && len(sc.jobs) < max; k, v = cur.Next() {
			seq := binary.BigEndian.Uint64(k)
			old := held[seq]
			if old != nil && (old.pinned || old.until.After(now)) {
				if !old.pinned && (sc.next.IsZero() || old.until.Before(sc.next)) {
					sc.next = old.until
				}
				continue
			}
			r, err := jobcodec.Decode(v[1:])
			if err != nil {
				sc.bad = append(sc.bad, bytes.Clone(k))
				continue
			}
			if held == nil {
				held = map[uint64]*lease{}
				l.held[req.Connector] = held
			}
			l.last++
			held[seq] = &lease{n: l.last, until: now.Add(req.Lease)}
			sc.jobs = append(sc.jobs, crmsync.Job{
				Connector: req.Connector, Activity: r.Activity, Open: r.Open, Task: r.Task, Attempt: r.Attempt, LastError: r.LastError,
				EnqueuedAt: r.EnqueuedAt, Worker: req.Worker, Handle: handle(seq, l.last),
				Reclaimed: old != nil || seq <= boot || v[0]&flagReclaimed != 0,
			})
		}
		return nil
	})
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		err = crmsync.ErrClosed // Close came between the check and the look
	}
	return sc, err
}

// fixUp creates connector's buckets, moves its retries due at now to
// ready and sets aside the ready records at bad, which this version
// cannot read (kept, not dropped).
func fixUp(tx *wtx, connector string, now time.Time, bad [][]byte) error {
	c, err := tx.conn(connector, true)
	if err != nil {
		return err
	}
	nowKey := tkey(now)
	b := c.get(bDelayed)
	cur := b.Cursor()
	for k, v := cur.First(); k != nil && bytes.Compare(k[:8], nowKey) <= 0; k, v = cur.First() {
		if err := toReady(c, v[0], bytes.Clone(v[1:])); err != nil {
			return err
		}
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	for _, k := range bad {
		v := bytes.Clone(c.get(bReady).Get(k))
		if v == nil {
			continue
		}
		if err := c.get(bReady).Delete(k); err != nil {
			return err
		}
		if err := c.get(bDead).Put(cat([]byte("undecodable:"), k), v); err != nil {
			return err
		}
	}
	return nil
}

// toReady adds a job at the end of ready.
func toReady(c conn, flag byte, rec []byte) error {
	seq, _ := c.get(bReady).NextSequence()
	return putReady(c, u64(seq), flag, rec)
}

func putReady(c conn, key []byte, flag byte, rec []byte) error {
	if err := c.get(bReady).Put(key, cat([]byte{flag}, rec)); err != nil {
		return err
	}
	r, err := jobcodec.Decode(rec)
	if err != nil {
		return nil // claim sets it aside
	}
	return c.get(bIndex).Put([]byte(r.ID()), cat([]byte{locReady}, key))
}

// upgrade empties the leased bucket that versions before the lease table
// wrote (a claim moved each job there): its jobs go back to ready under
// the keys they had there, so they keep their place, and marked
// reclaimed, since the process that had the file may have pushed them.
// It returns, by connector, the last ready key (leases.boot).
func upgrade(tx *bbolt.Tx) (map[string]uint64, error) {
	boot := map[string]uint64{}
	for _, name := range connectors(tx, "") {
		c, err := connBuckets(tx, name, true)
		if err != nil {
			return nil, err
		}
		b := c.get(bLeased)
		cur := b.Cursor()
		// A key is the lease's end and the ready key; a value, the flags,
		// the owner's length and name, and the record.
		for k, v := cur.First(); k != nil; k, v = cur.First() {
			k, v := bytes.Clone(k), bytes.Clone(v)
			if err := b.Delete(k); err != nil {
				return nil, err
			}
			if len(k) != 16 || len(v) < 2 || len(v) < 2+int(v[1]) {
				if err := c.get(bDead).Put(cat([]byte("undecodable:"), k), v); err != nil {
					return nil, err
				}
				continue
			}
			if err := putReady(c, k[8:], v[0]|flagReclaimed, v[2+int(v[1]):]); err != nil {
				return nil, err
			}
		}
		boot[name] = c.get(bReady).Sequence()
	}
	return boot, nil
}

// pin checks, in a transaction, that j holds its lease on a job still
// ready, and pins the lease so that it is not taken over before the
// transaction is through (unpin). It returns the job's ready key.
func (l *leases) pin(c conn, j crmsync.Job) ([]byte, error) {
	if c.b == nil {
		return nil, crmsync.ErrLeaseLost
	}
	seq, n, err := parseHandle(j.Handle)
	if err != nil {
		return nil, err
	}
	key := u64(seq)
	loc := c.get(bIndex).Get([]byte(j.ID()))
	if loc == nil || loc[0] != locReady || !bytes.Equal(loc[1:], key) {
		return nil, crmsync.ErrLeaseLost
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.held[j.Connector][seq]
	if h == nil || h.n != n {
		return nil, crmsync.ErrLeaseLost
	}
	h.pinned = true
	return key, nil
}

// unpin ends what pin began once the transaction is through (err is its
// outcome): a lease whose job moved (nil) or was gone (ErrLeaseLost) is
// forgotten; after another error the job is where it was, and so is the
// lease.
func (l *leases) unpin(j crmsync.Job, err error) {
	seq, n, perr := parseHandle(j.Handle)
	if perr != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.held[j.Connector][seq]
	switch {
	case h == nil || h.n != n:
	case err == nil || errors.Is(err, crmsync.ErrLeaseLost):
		delete(l.held[j.Connector], seq)
	default:
		h.pinned = false
	}
}

// forget drops whatever lease there is on the job at ready key seq.
func (l *leases) forget(connector string, seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.held[connector], seq)
}

// inFlight counts the leases on jobs that c's ready bucket holds. The
// caller holds l.mu.
func (l *leases) inFlight(c conn, connector string) int64 {
	var n int64
	for seq := range l.held[connector] {
		if c.get(bReady).Get(u64(seq)) != nil {
			n++
		}
	}
	return n
}

// Ack implements crmsync.Store. Wherever the job is now (another worker
// may hold it, or have given it back for a retry), it was delivered: it
// leaves the file, and then whatever lease there is on it the table. It
// returns once that is durable, which may take up to Options.AckLinger
// while other changes join its commit (commit.go).
func (s *Store) Ack(ctx context.Context, j crmsync.Job) error {
	now := s.now()
	var readyKey []byte
	err := s.c.updateLazy(func(tx *wtx) error {
		readyKey = nil
		c, err := tx.conn(j.Connector, true)
		if err != nil {
			return err
		}
		id := []byte(j.ID())
		if loc := c.get(bIndex).Get(id); loc != nil {
			key := bytes.Clone(loc[1:])
			var b *bbolt.Bucket
			switch loc[0] {
			case locReady:
				b, readyKey = c.get(bReady), key
			case locDelayed:
				b = c.get(bDelayed)
			default:
				b = c.get(bLeased)
			}
			if err := b.Delete(key); err != nil {
				return err
			}
			if err := c.get(bIndex).Delete(id); err != nil {
				return err
			}
			n := uint64(0)
			if v := c.get(bMeta).Get(kDeliv); v != nil {
				n = binary.BigEndian.Uint64(v)
			}
			if err := c.get(bMeta).Put(kDeliv, u64(n+1)); err != nil {
				return err
			}
		}
		if tx.marker(j.Connector, id) == markDone {
			return nil // delivered before: its marker stands
		}
		return tx.mark(j.Connector, c, markDone, id, tkey(now))
	})
	if err == nil && readyKey != nil {
		s.l.forget(j.Connector, binary.BigEndian.Uint64(readyKey))
	}
	return err
}

// Nack implements crmsync.Store.
func (s *Store) Nack(ctx context.Context, j crmsync.Job, retryAt time.Time, lastErr string) error {
	rec, err := jobcodec.Encode(jobcodec.Record{Activity: j.Activity, Open: j.Open, Task: j.Task, Attempt: j.Attempt + 1, LastError: lastErr, EnqueuedAt: j.EnqueuedAt})
	if err != nil {
		return err
	}
	err = s.c.update(func(tx *wtx) error {
		c, err := tx.conn(j.Connector, false)
		if err != nil {
			return err
		}
		key, err := s.l.pin(c, j)
		if err != nil {
			return err
		}
		dkey := cat(tkey(retryAt), key)
		if err := c.get(bReady).Delete(key); err != nil {
			return err
		}
		if err := c.get(bDelayed).Put(dkey, cat([]byte{0}, rec)); err != nil {
			return err
		}
		return c.get(bIndex).Put([]byte(j.ID()), cat([]byte{locDelayed}, dkey))
	})
	s.l.unpin(j, err)
	if err == nil && !retryAt.After(s.now()) {
		s.notify()
	}
	return err
}

// DeadLetter implements crmsync.Store.
func (s *Store) DeadLetter(ctx context.Context, j crmsync.Job, reason string) error {
	now := s.now()
	if len(reason) > jobcodec.MaxLastError {
		reason = reason[:jobcodec.MaxLastError]
	}
	v, err := json.Marshal(crmsync.DeadLetter{
		Connector: j.Connector, Activity: j.Activity, Open: j.Open, Task: j.Task, Attempts: j.Attempt + 1, Reason: reason,
		EnqueuedAt: j.EnqueuedAt.UTC(), DiedAt: now.UTC(),
	})
	if err != nil {
		return err
	}
	err = s.c.update(func(tx *wtx) error {
		c, err := tx.conn(j.Connector, false)
		if err != nil {
			return err
		}
		key, err := s.l.pin(c, j)
		if err != nil {
			return err
		}
		if err := c.get(bReady).Delete(key); err != nil {
			return err
		}
		if err := c.get(bIndex).Delete([]byte(j.ID())); err != nil {
			return err
		}
		return c.get(bDead).Put([]byte(j.ID()), v)
	})
	s.l.unpin(j, err)
	return err
}
