package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
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
	// AckLinger is how long an Ack may wait for other changes to share
	// its commit (commit.go). Default 50ms; negative: none.
	AckLinger time.Duration
}

// Store is the bbolt-backed crmsync.Store.
type Store struct {
	db   *bbolt.DB
	c    *committer // every change goes through it
	opts Options
	l    *leases  // what the workers hold (lease.go)
	m    *markers // which ids have markers (markers.go)

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
	bLog      = []byte("markers")
	bDead     = []byte("dead")
	bMeta     = []byte("meta")
	kDeliv    = []byte("delivered")
	subs      = [][]byte{bReady, bDelayed, bLeased, bIndex, bEnq, bDone, bDead, bMeta, bLog}
	connPrefx = []byte("c:")
)

// Location kinds in the index. A job claimed by a worker stays in ready
// (lease.go); locLeased and the leased bucket are what earlier versions
// wrote, read at Open and emptied (upgrade). The bucket is still created,
// empty, so that an earlier version can open the file again.
const (
	locReady   = 'r'
	locDelayed = 'd'
	locLeased  = 'l'
)

// Job value flags.
const flagReclaimed = 1 // a worker's lease on it ran out (or its process ended)

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
	if opts.AckLinger == 0 {
		opts.AckLinger = ackLinger
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	db, err := bbolt.Open(filepath.Join(dir, FileName), 0o600, &bbolt.Options{Timeout: opts.OpenTimeout})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Join(dir, FileName), err)
	}
	var boot map[string]uint64
	var m *markers
	if err := db.Update(func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bStarts); err != nil {
			return err
		}
		var err error
		if boot, err = upgrade(tx); err != nil {
			return err
		}
		m, err = loadMarkers(tx)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, c: newCommitter(db, m, opts.AckLinger), opts: opts, l: newLeases(boot), m: m, wake: make(chan struct{})}, nil
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
		if bytes.Equal(sb, bReady) || bytes.Equal(sb, bLog) {
			// Appended to at the right edge only: a page that splits
			// is left full, not half full for inserts that never come.
			b.FillPercent = 1
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
	err := s.c.update(func(tx *wtx) error {
		n = 0
		for _, name := range connectors(tx.Tx, connector) {
			c, err := tx.conn(name, false)
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
				if err := toReady(c, 0, rec); err != nil {
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
	err := s.c.update(func(tx *wtx) error {
		n = 0
		for _, name := range connectors(tx.Tx, connector) {
			c, err := tx.conn(name, false)
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

// Stats implements crmsync.Store. A leased job is in the ready bucket
// and in the lease table: it counts as in flight, not ready. The table is
// held while the file is read, so that the two agree (lease.go).
func (s *Store) Stats(ctx context.Context) ([]crmsync.QueueStats, error) {
	var out []crmsync.QueueStats
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	err := s.db.View(func(tx *bbolt.Tx) error {
		for _, name := range connectors(tx, "") {
			c, err := connBuckets(tx, name, false)
			if err != nil || c.b == nil {
				return err
			}
			inFlight := s.l.inFlight(c, name)
			st := crmsync.QueueStats{
				Connector: name,
				Ready:     int64(c.get(bReady).Stats().KeyN) - inFlight,
				InFlight:  inFlight,
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
	return s.c.update(func(tx *wtx) error {
		for _, name := range connectors(tx.Tx, "") {
			c, err := tx.conn(name, false)
			if err != nil || c.b == nil {
				return err
			}
			if err := tx.pruneMarkers(name, c, markerCut); err != nil {
				return err
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
