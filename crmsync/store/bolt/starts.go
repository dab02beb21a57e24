package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	"github.com/callbridge/callbridge/crmsync"
)

// The start-margin rule's memory: accepted starts by user, remote number
// and start time, each with the calls it stands for.

// startPrefix is the starts-bucket prefix of one user and remote number,
// length-prefixed so no pair is a prefix of another.
func startPrefix(user, remote string) []byte {
	b := make([]byte, 0, 4+len(user)+len(remote))
	b = binary.BigEndian.AppendUint16(b, uint16(min(len(user), 0xffff)))
	b = append(b, user...)
	b = binary.BigEndian.AppendUint16(b, uint16(min(len(remote), 0xffff)))
	return append(b, remote...)
}

// ReserveStart implements crmsync.Store. A start's key is (user, remote,
// start, id); its value lists the calls it stands for (see calls).
func (s *Store) ReserveStart(ctx context.Context, k crmsync.StartKey) (string, error) {
	dups, err := s.ReserveStarts(ctx, []crmsync.StartKey{k})
	if err != nil {
		return "", err
	}
	return dups[0], nil
}

// ReserveStarts implements crmsync.BatchIntake: every key in one
// transaction, in order, so a later key sees an earlier one's reservation.
func (s *Store) ReserveStarts(ctx context.Context, keys []crmsync.StartKey) ([]string, error) {
	dups := make([]string, len(keys))
	fns := make([]func(*wtx) error, len(keys))
	for i, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, err
		}
		fns[i] = reserve(k, &dups[i])
	}
	if err := s.c.updateAll(fns); err != nil {
		return nil, err
	}
	return dups, nil
}

// checkKey refuses a key the starts bucket cannot hold.
func checkKey(k crmsync.StartKey) error {
	if k.ID == "" || k.Margin < 0 {
		return errors.New("reserve start: id required, margin not negative")
	}
	if len(k.User) > 0xffff || len(k.Remote) > 0xffff {
		return errors.New("reserve start: user or remote number too long")
	}
	return nil
}

// reserve is k's start-margin check and reservation as a change, setting
// *dup.
func reserve(k crmsync.StartKey, dup *string) func(*wtx) error {
	return func(tx *wtx) error {
		*dup = ""
		b := tx.Bucket(bStarts)
		prefix := startPrefix(k.User, k.Remote)
		lo, hi := tkey(k.Start.Add(-k.Margin)), tkey(k.Start.Add(k.Margin))
		cur := b.Cursor()
		var best []byte
		var bestCalls calls
		var bestDist time.Duration
		for key, v := cur.Seek(cat(prefix, lo)); key != nil && bytes.HasPrefix(key, prefix) && len(key) >= len(prefix)+8; key, v = cur.Next() {
			at := key[len(prefix) : len(prefix)+8]
			if bytes.Compare(at, hi) > 0 {
				break
			}
			if string(key[len(prefix)+8:]) == k.ID {
				return nil // this very activity was accepted before
			}
			cs := decodeCalls(v)
			if !cs.mayBe(k) {
				continue
			}
			// Keys come in start order, so a strictly nearer one is
			// later: ties keep the earlier.
			d := timeOf(at).Sub(k.Start.Truncate(time.Millisecond))
			if d < 0 {
				d = -d
			}
			if best == nil || d < bestDist {
				best, bestCalls, bestDist = bytes.Clone(key), cs, d
			}
		}
		if best != nil {
			*dup = string(best[len(prefix)+8:])
			if k.Known() && !bestCalls.has(k) {
				return b.Put(best, append(bestCalls, call{k.Source, k.CallID}).encode())
			}
			return nil
		}
		var cs calls
		if k.Known() {
			cs = calls{{k.Source, k.CallID}}
		}
		return b.Put(cat(prefix, tkey(k.Start), []byte(k.ID)), cs.encode())
	}
}

// call is one call as one source reported it.
type call struct {
	Source string `json:"s"`
	CallID string `json:"c"`
}

// calls are the calls one accepted start stands for: the accepted
// activity's own and those of the duplicates merged into it. Starts
// written before calls were kept have none, which may be any call.
type calls []call

func decodeCalls(v []byte) calls {
	var cs calls
	if len(v) > 0 {
		_ = json.Unmarshal(v, &cs) // unreadable: unknown, like none
	}
	return cs
}

func (cs calls) encode() []byte {
	if len(cs) == 0 {
		return nil
	}
	b, _ := json.Marshal(cs)
	return b
}

// mayBe reports whether k may be the same call as cs: not when cs holds
// another call id of k's source.
func (cs calls) mayBe(k crmsync.StartKey) bool {
	if !k.Known() {
		return true
	}
	for _, c := range cs {
		if c.Source == k.Source && c.CallID != k.CallID {
			return false
		}
	}
	return true
}

func (cs calls) has(k crmsync.StartKey) bool {
	for _, c := range cs {
		if c.Source == k.Source && c.CallID == k.CallID {
			return true
		}
	}
	return false
}
