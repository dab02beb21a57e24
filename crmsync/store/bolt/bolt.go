package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/internal/jobcodec"
)

// FileName is the database file inside the state directory.
const FileName = "queue.db"

// Options tune the store. Zero values take the defaults.
type Options struct {
	// MarkerRetention is how long enqueued and delivered markers are kept
	// to refuse a repeated activity. Default 30 days.
	MarkerRetention time.Duration
	// StartRetention is how far before the newest accepted start the
	// others are kept for the start-margin rule, on the activities' own
	// times (never the wall clock, so a replay of old events decides as
	// the live run did). Default 7 days.
	StartRetention time.Duration
	// Now replaces the clock (tests).
	Now func() time.Time
	// OpenTimeout bounds waiting for another process's file lock. Default 5s.
	OpenTimeout time.Duration
}

// Store is the bbolt-backed crmsync.Store.
type Store struct {
	db   *bbolt.DB
	c    *committer // every change goes through it
	opts Options

	mu        sync.Mutex
	wake      chan struct{} // closed and replaced when work arrives
	lastPrune time.Time
	closed    bool
}

var _ crmsync.Store = (*Store)(nil)

// Bucket and key names.
var (
	bStarts   = []byte("starts")
	bReady    = []byte("ready")
	bDelayed  = []byte("delayed")
	bLeased   = []byte("leased")
	bIndex    = []byte("index")
	bEnq      = []byte("enq")
	bDone     = []byte("done")
	bDead     = []byte("dead")
	bMeta     = []byte("meta")
	kDeliv    = []byte("delivered")
	subs      = [][]byte{bReady, bDelayed, bLeased, bIndex, bEnq, bDone, bDead, bMeta}
	connPrefx = []byte("c:")
)

// Location kinds in the index.
const (
	locReady   = 'r'
	locDelayed = 'd'
	locLeased  = 'l'
)

// Job value flags.
const flagReclaimed = 1

// Open opens (creating) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	if opts.MarkerRetention <= 0 {
		opts.MarkerRetention = 30 * 24 * time.Hour
	}
	if opts.StartRetention <= 0 {
		opts.StartRetention = 7 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OpenTimeout <= 0 {
		opts.OpenTimeout = 5 * time.Second
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	db, err := bbolt.Open(filepath.Join(dir, FileName), 0o600, &bbolt.Options{Timeout: opts.OpenTimeout})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Join(dir, FileName), err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bStarts)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, c: newCommitter(db), opts: opts, wake: make(chan struct{})}, nil
}

// Close closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.wake)
	s.mu.Unlock()
	s.c.close()
	return s.db.Close()
}

func (s *Store) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		close(s.wake)
		s.wake = make(chan struct{})
	}
}

func (s *Store) waiter() (<-chan struct{}, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wake, s.closed
}

// conn returns connector's buckets, creating them when create is set.
type conn struct{ b map[string]*bbolt.Bucket }

func (c conn) get(name []byte) *bbolt.Bucket { return c.b[string(name)] }

func connBuckets(tx *bbolt.Tx, connector string, create bool) (conn, error) {
	if connector == "" {
		return conn{}, errors.New("connector name is empty")
	}
	name := append(append([]byte{}, connPrefx...), connector...)
	var top *bbolt.Bucket
	if create {
		var err error
		if top, err = tx.CreateBucketIfNotExists(name); err != nil {
			return conn{}, err
		}
	} else if top = tx.Bucket(name); top == nil {
		return conn{}, nil
	}
	c := conn{b: map[string]*bbolt.Bucket{}}
	for _, sb := range subs {
		b := top.Bucket(sb)
		if b == nil {
			if !create {
				return conn{}, fmt.Errorf("connector %q: bucket %s missing", connector, sb)
			}
			var err error
			if b, err = top.CreateBucket(sb); err != nil {
				return conn{}, err
			}
		}
		c.b[string(sb)] = b
	}
	return c, nil
}

// connectors lists every connector with a bucket, or just one.
func connectors(tx *bbolt.Tx, only string) []string {
	var out []string
	_ = tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
		if bytes.HasPrefix(name, connPrefx) {
			c := string(name[len(connPrefx):])
			if only == "" || only == c {
				out = append(out, c)
			}
		}
		return nil
	})
	return out
}

func u64(v uint64) []byte { b := make([]byte, 8); binary.BigEndian.PutUint64(b, v); return b }

// tkey orders times (negative ones too) as unsigned big-endian.
func tkey(t time.Time) []byte { return u64(uint64(t.UnixMilli()) ^ 1<<63) }

func timeOf(b []byte) time.Time {
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b) ^ 1<<63))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func (s *Store) now() time.Time { return s.opts.Now() }

// Enqueue implements crmsync.Store.
func (s *Store) Enqueue(ctx context.Context, connector string, a bridge.Activity) (bool, error) {
	if a.ID == "" {
		return false, errors.New("enqueue: activity without id")
	}
	return s.EnqueueJob(ctx, connector, crmsync.Job{Activity: a}, time.Time{})
}

// Claim implements crmsync.Store.
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

// claim leases what is due; next is when the earliest delayed or leased job
// falls due, zero if none.
func (s *Store) claim(req crmsync.ClaimRequest) (jobs []crmsync.Job, next time.Time, err error) {
	now := s.now()
	s.maybePrune(now)
	err = s.c.update(func(tx *bbolt.Tx) error {
		jobs, next = nil, time.Time{}
		c, err := connBuckets(tx, req.Connector, true)
		if err != nil {
			return err
		}
		nowKey := tkey(now)
		// Due retries and expired leases go back to ready.
		for _, src := range [][]byte{bDelayed, bLeased} {
			b := c.get(src)
			cur := b.Cursor()
			for k, v := cur.First(); k != nil; k, v = cur.First() {
				if bytes.Compare(k[:8], nowKey) > 0 {
					if t := timeOf(k[:8]); next.IsZero() || t.Before(next) {
						next = t
					}
					break
				}
				flag, rec := v[0], v[1:]
				if src[0] == bLeased[0] {
					rec = rec[1+int(rec[0]):] // drop the owner
					flag |= flagReclaimed
				}
				if err := s.toReady(c, flag, rec); err != nil {
					return err
				}
				if err := b.Delete(k); err != nil {
					return err
				}
			}
		}
		until := tkey(now.Add(req.Lease))
		owner := []byte(req.Worker)
		if len(owner) > 255 {
			return errors.New("claim: worker name longer than 255 bytes")
		}
		cur := c.get(bReady).Cursor()
		for k, v := cur.First(); k != nil && len(jobs) < req.Max; k, v = cur.First() {
			r, derr := jobcodec.Decode(v[1:])
			seq := append([]byte{}, k...)
			if err := c.get(bReady).Delete(k); err != nil {
				return err
			}
			if derr != nil {
				// A record this version cannot read is kept aside, not dropped.
				if err := c.get(bDead).Put(cat([]byte("undecodable:"), seq), v); err != nil {
					return err
				}
				continue
			}
			lkey := cat(until, seq)
			if err := c.get(bLeased).Put(lkey, cat([]byte{v[0], byte(len(owner))}, owner, v[1:])); err != nil {
				return err
			}
			if err := c.get(bIndex).Put([]byte(r.ID()), cat([]byte{locLeased}, lkey)); err != nil {
				return err
			}
			jobs = append(jobs, crmsync.Job{
				Connector: req.Connector, Activity: r.Activity, Open: r.Open, Task: r.Task, Attempt: r.Attempt, LastError: r.LastError,
				EnqueuedAt: r.EnqueuedAt, Worker: req.Worker, Handle: hex.EncodeToString(lkey),
				Reclaimed: v[0]&flagReclaimed != 0,
			})
		}
		return nil
	})
	return jobs, next, err
}

func (s *Store) toReady(c conn, flag byte, rec []byte) error {
	seq, _ := c.get(bReady).NextSequence()
	key := u64(seq)
	if err := c.get(bReady).Put(key, cat([]byte{flag}, rec)); err != nil {
		return err
	}
	r, err := jobcodec.Decode(rec)
	if err != nil {
		return nil // claim sets it aside
	}
	return c.get(bIndex).Put([]byte(r.ID()), cat([]byte{locReady}, key))
}

// leased checks that j still holds its lease and returns the leased key.
func leased(c conn, j crmsync.Job) ([]byte, error) {
	if c.b == nil {
		return nil, crmsync.ErrLeaseLost
	}
	lkey, err := hex.DecodeString(j.Handle)
	if err != nil {
		return nil, fmt.Errorf("bad job handle: %w", err)
	}
	loc := c.get(bIndex).Get([]byte(j.ID()))
	if loc == nil || loc[0] != locLeased || !bytes.Equal(loc[1:], lkey) {
		return nil, crmsync.ErrLeaseLost
	}
	return lkey, nil
}

// Ack implements crmsync.Store.
func (s *Store) Ack(ctx context.Context, j crmsync.Job) error {
	now := s.now()
	return s.c.update(func(tx *bbolt.Tx) error {
		c, err := connBuckets(tx, j.Connector, true)
		if err != nil {
			return err
		}
		id := []byte(j.ID())
		if loc := c.get(bIndex).Get(id); loc != nil {
			// Wherever the job is now (another worker may have it), it
			// was delivered.
			var b *bbolt.Bucket
			switch loc[0] {
			case locReady:
				b = c.get(bReady)
			case locDelayed:
				b = c.get(bDelayed)
			default:
				b = c.get(bLeased)
			}
			if err := b.Delete(append([]byte{}, loc[1:]...)); err != nil {
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
		return c.get(bDone).Put(id, tkey(now))
	})
}

// Nack implements crmsync.Store.
func (s *Store) Nack(ctx context.Context, j crmsync.Job, retryAt time.Time, lastErr string) error {
	err := s.c.update(func(tx *bbolt.Tx) error {
		c, err := connBuckets(tx, j.Connector, false)
		if err != nil {
			return err
		}
		lkey, err := leased(c, j)
		if err != nil {
			return err
		}
		rec, err := jobcodec.Encode(jobcodec.Record{Activity: j.Activity, Open: j.Open, Task: j.Task, Attempt: j.Attempt + 1, LastError: lastErr, EnqueuedAt: j.EnqueuedAt})
		if err != nil {
			return err
		}
		dkey := cat(tkey(retryAt), lkey[8:])
		if err := c.get(bLeased).Delete(lkey); err != nil {
			return err
		}
		if err := c.get(bDelayed).Put(dkey, cat([]byte{0}, rec)); err != nil {
			return err
		}
		return c.get(bIndex).Put([]byte(j.ID()), cat([]byte{locDelayed}, dkey))
	})
	if err == nil && !retryAt.After(s.now()) {
		s.notify()
	}
	return err
}

// DeadLetter implements crmsync.Store.
func (s *Store) DeadLetter(ctx context.Context, j crmsync.Job, reason string) error {
	now := s.now()
	return s.c.update(func(tx *bbolt.Tx) error {
		c, err := connBuckets(tx, j.Connector, false)
		if err != nil {
			return err
		}
		lkey, err := leased(c, j)
		if err != nil {
			return err
		}
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
		if err := c.get(bLeased).Delete(lkey); err != nil {
			return err
		}
		if err := c.get(bIndex).Delete([]byte(j.ID())); err != nil {
			return err
		}
		return c.get(bDead).Put([]byte(j.ID()), v)
	})
}

// DeadLetters implements crmsync.Store.
func (s *Store) DeadLetters(ctx context.Context, connector string, limit int) ([]crmsync.DeadLetter, error) {
	var out []crmsync.DeadLetter
	err := s.db.View(func(tx *bbolt.Tx) error {
		for _, name := range connectors(tx, connector) {
			c, err := connBuckets(tx, name, false)
			if err != nil || c.b == nil {
				return err
			}
			err = c.get(bDead).ForEach(func(k, v []byte) error {
				var d crmsync.DeadLetter
				if err := json.Unmarshal(v, &d); err != nil || bytes.HasPrefix(k, []byte("undecodable:")) {
					d = crmsync.DeadLetter{Connector: name, Activity: bridge.Activity{ID: string(k)}, Reason: "undecodable record"}
				}
				out = append(out, d)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].DiedAt.Before(out[j].DiedAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// Retry implements crmsync.Store.
func (s *Store) Retry(ctx context.Context, id string) error {
	n, err := s.requeue(func(k []byte) bool { return string(k) == id }, "")
	if err == nil && n == 0 {
		return fmt.Errorf("dead letter %s: %w", id, crmsync.ErrNotFound)
	}
	return err
}

// RetryAll implements crmsync.Store.
func (s *Store) RetryAll(ctx context.Context, connector string) (int, error) {
	return s.requeue(func([]byte) bool { return true }, connector)
}

func (s *Store) requeue(match func([]byte) bool, connector string) (int, error) {
	now := s.now()
	n := 0
	err := s.c.update(func(tx *bbolt.Tx) error {
		n = 0
		for _, name := range connectors(tx, connector) {
			c, err := connBuckets(tx, name, false)
			if err != nil || c.b == nil {
				return err
			}
			var keys [][]byte
			var vals [][]byte
			_ = c.get(bDead).ForEach(func(k, v []byte) error {
				if match(k) && !bytes.HasPrefix(k, []byte("undecodable:")) {
					keys, vals = append(keys, k), append(vals, v)
				}
				return nil
			})
			for i, k := range keys {
				var d crmsync.DeadLetter
				if err := json.Unmarshal(vals[i], &d); err != nil {
					continue
				}
				rec, err := jobcodec.Encode(jobcodec.Record{Activity: d.Activity, Open: d.Open, Task: d.Task, EnqueuedAt: now})
				if err != nil {
					return err
				}
				if err := c.get(bDead).Delete(k); err != nil {
					return err
				}
				if err := s.toReady(c, 0, rec); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if n > 0 {
		s.notify()
	}
	return n, err
}

// Purge implements crmsync.Store.
func (s *Store) Purge(ctx context.Context, connector string) (int, error) {
	n := 0
	err := s.c.update(func(tx *bbolt.Tx) error {
		n = 0
		for _, name := range connectors(tx, connector) {
			c, err := connBuckets(tx, name, false)
			if err != nil || c.b == nil {
				return err
			}
			var keys [][]byte
			_ = c.get(bDead).ForEach(func(k, _ []byte) error { keys = append(keys, k); return nil })
			for _, k := range keys {
				if err := c.get(bDead).Delete(k); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, err
}

// Stats implements crmsync.Store.
func (s *Store) Stats(ctx context.Context) ([]crmsync.QueueStats, error) {
	var out []crmsync.QueueStats
	err := s.db.View(func(tx *bbolt.Tx) error {
		for _, name := range connectors(tx, "") {
			c, err := connBuckets(tx, name, false)
			if err != nil || c.b == nil {
				return err
			}
			st := crmsync.QueueStats{
				Connector: name,
				Ready:     int64(c.get(bReady).Stats().KeyN),
				InFlight:  int64(c.get(bLeased).Stats().KeyN),
				Delayed:   int64(c.get(bDelayed).Stats().KeyN),
				Dead:      int64(c.get(bDead).Stats().KeyN),
			}
			if v := c.get(bMeta).Get(kDeliv); v != nil {
				st.Delivered = int64(binary.BigEndian.Uint64(v))
			}
			out = append(out, st)
		}
		return nil
	})
	return out, err
}

// maybePrune forgets old markers and starts, at most once an hour.
func (s *Store) maybePrune(now time.Time) {
	s.mu.Lock()
	if now.Sub(s.lastPrune) < time.Hour {
		s.mu.Unlock()
		return
	}
	s.lastPrune = now
	s.mu.Unlock()
	_ = s.Prune(now)
}

// Prune forgets enqueued and delivered markers older than MarkerRetention
// and starts more than StartRetention older than the newest one. It runs
// by itself hourly.
func (s *Store) Prune(now time.Time) error {
	markerCut := tkey(now.Add(-s.opts.MarkerRetention))
	return s.c.update(func(tx *bbolt.Tx) error {
		for _, name := range connectors(tx, "") {
			c, err := connBuckets(tx, name, false)
			if err != nil || c.b == nil {
				return err
			}
			for _, bn := range [][]byte{bEnq, bDone} {
				b := c.get(bn)
				var old [][]byte
				_ = b.ForEach(func(k, v []byte) error {
					// An enqueued marker stays while its job does.
					if bytes.Compare(v, markerCut) < 0 && (bn[0] == bDone[0] || c.get(bIndex).Get(k) == nil) {
						old = append(old, k)
					}
					return nil
				})
				for _, k := range old {
					if err := b.Delete(k); err != nil {
						return err
					}
				}
			}
		}
		b := tx.Bucket(bStarts)
		var newest time.Time
		starts := map[string]time.Time{}
		_ = b.ForEach(func(k, _ []byte) error {
			if at, ok := startTimeOf(k); ok {
				starts[string(k)] = at
				if at.After(newest) {
					newest = at
				}
			}
			return nil
		})
		startCut := newest.Add(-s.opts.StartRetention)
		var old [][]byte
		for k, at := range starts {
			if at.Before(startCut) {
				old = append(old, []byte(k))
			}
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// startTimeOf reads the start time out of a starts key (user, remote,
// time, id).
func startTimeOf(k []byte) (time.Time, bool) {
	if len(k) < 4 {
		return time.Time{}, false
	}
	ul := int(binary.BigEndian.Uint16(k))
	if len(k) < 2+ul+2 {
		return time.Time{}, false
	}
	rl := int(binary.BigEndian.Uint16(k[2+ul:]))
	off := 2 + ul + 2 + rl
	if len(k) < off+8 {
		return time.Time{}, false
	}
	return timeOf(k[off : off+8]), true
}
