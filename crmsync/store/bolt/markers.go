package bolt

import (
	"bytes"
	"crypto/sha256"
	"sync"

	bbolt "go.etcd.io/bbolt"
)

// The enqueued and delivered markers (what refuses a repeated activity
// for MarkerRetention) are a log, not a table by id: an activity id is a
// hash, so markers kept by id land on a random leaf page each, and a
// commit of a few dozen activities dirtied a page per marker. The log
// bucket is keyed by the marker's time and a sequence number, so every
// new marker goes at its right edge (the same few pages for a whole
// commit) and Prune takes the old ones from its left edge. Whether an id
// has a marker is answered from memory: a table from a 128-bit hash of
// the id to the kind of its newest marker, built at Open by one scan of
// the log and changed only once the transaction that wrote the log is
// committed (wtx.marks, committer.finish), so it never says what the
// file does not.
//
// A log entry's key is tkey(at) and the log's sequence (16 bytes), its
// value the kind and the id.

// Marker kinds, the first byte of a log value.
const (
	markEnq  = 'e'
	markDone = 'd'
)

// idHash is the table's key for an id: 16 bytes whatever the id's length,
// with no practical chance of two ids sharing one.
type idHash [16]byte

func hashID(id []byte) idHash {
	sum := sha256.Sum256(id)
	return idHash(sum[:16])
}

// markers is the in-memory table, by connector. The committer's goroutine
// is the only writer; it reads without the lock, everyone else with it.
type markers struct {
	mu sync.Mutex
	by map[string]map[idHash]byte
}

// markKey names one id's entry in the table.
type markKey struct {
	connector string
	h         idHash
}

// kind is the kind of id's newest marker, 0 if none. The caller holds
// m.mu or is the committer.
func (m *markers) kind(connector string, h idHash) byte {
	return m.by[connector][h]
}

// apply makes the table what a committed transaction made the file: a
// kind of 0 removes the entry. The caller holds m.mu.
func (m *markers) apply(staged map[markKey]byte) {
	for k, kind := range staged {
		t := m.by[k.connector]
		if kind == 0 {
			delete(t, k.h)
			continue
		}
		if t == nil {
			t = map[idHash]byte{}
			m.by[k.connector] = t
		}
		t[k.h] = kind
	}
}

// marker is the kind of id's newest marker as this transaction sees it.
func (tx *wtx) marker(connector string, id []byte) byte {
	h := hashID(id)
	if kind, ok := tx.marks[markKey{connector, h}]; ok {
		return kind
	}
	if tx.m == nil {
		return 0
	}
	return tx.m.kind(connector, h)
}

// mark appends a marker of kind for id to c's log and stages its entry in
// the table.
func (tx *wtx) mark(connector string, c conn, kind byte, id []byte, at []byte) error {
	seq, err := c.get(bLog).NextSequence()
	if err != nil {
		return err
	}
	if err := c.get(bLog).Put(cat(at, u64(seq)), cat([]byte{kind}, id)); err != nil {
		return err
	}
	tx.stage(connector, hashID(id), kind)
	return nil
}

func (tx *wtx) stage(connector string, h idHash, kind byte) {
	if tx.marks == nil {
		tx.marks = map[markKey]byte{}
	}
	tx.marks[markKey{connector, h}] = kind
}

// pruneMarkers drops c's log entries older than cut (a tkey) from the
// log's left edge, and from the table those that are an id's newest. An
// enqueued marker stays while its job does.
func (tx *wtx) pruneMarkers(connector string, c conn, cut []byte) error {
	var old [][]byte
	cur := c.get(bLog).Cursor()
	for k, v := cur.First(); k != nil && bytes.Compare(k[:min(8, len(k))], cut) < 0; k, v = cur.Next() {
		if len(v) == 0 {
			old = append(old, bytes.Clone(k)) // unreadable: no marker for anything
			continue
		}
		kind, id := v[0], v[1:]
		if kind == markEnq && c.get(bIndex).Get(id) != nil {
			continue
		}
		old = append(old, bytes.Clone(k))
		if tx.marker(connector, id) == kind {
			tx.stage(connector, hashID(id), 0)
		}
	}
	for _, k := range old {
		if err := c.get(bLog).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// loadMarkers builds the table from every connector's log, after moving
// into the log what an earlier version left in the enq and done buckets.
// tx is a write transaction.
func loadMarkers(tx *bbolt.Tx) (*markers, error) {
	m := &markers{by: map[string]map[idHash]byte{}}
	for _, name := range connectors(tx, "") {
		c, err := connBuckets(tx, name, false)
		if err != nil || c.b == nil {
			return nil, err
		}
		t := make(map[idHash]byte, c.get(bLog).Stats().KeyN)
		err = c.get(bLog).ForEach(func(_, v []byte) error {
			if len(v) > 0 {
				h := hashID(v[1:])
				if t[h] != markDone { // a delivered marker is never superseded by an enqueued one
					t[h] = v[0]
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if err := migrateMarkers(c, t); err != nil {
			return nil, err
		}
		m.by[name] = t
	}
	return m, nil
}

// migrateMarkers moves the markers an earlier version kept in c's enq and
// done buckets (id → tkey of the marker's time) into the log and the
// table t, leaving those buckets empty (but there, so that an earlier
// version can still open the file). A marker the log has already (the
// file went back to an earlier version and forth) is not added twice.
func migrateMarkers(c conn, t map[idHash]byte) error {
	for _, b := range []struct {
		name []byte
		kind byte
	}{{bEnq, markEnq}, {bDone, markDone}} {
		var ids, ats [][]byte
		_ = c.get(b.name).ForEach(func(k, v []byte) error {
			ids, ats = append(ids, bytes.Clone(k)), append(ats, bytes.Clone(v))
			return nil
		})
		for i, id := range ids {
			if err := c.get(b.name).Delete(id); err != nil {
				return err
			}
			h := hashID(id)
			if t[h] == markDone || t[h] == b.kind {
				continue
			}
			at := ats[i]
			if len(at) != 8 {
				at = make([]byte, 8) // no readable time: the oldest, pruned first
			}
			seq, err := c.get(bLog).NextSequence()
			if err != nil {
				return err
			}
			if err := c.get(bLog).Put(cat(at, u64(seq)), cat([]byte{b.kind}, id)); err != nil {
				return err
			}
			t[h] = b.kind
		}
	}
	return nil
}
