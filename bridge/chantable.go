package bridge

import (
	"hash/maphash"
	"iter"
)

// chanTable finds a channel by its id. It is a table of pointers with
// open addressing, the key being the channel's own id: 9 bytes a slot
// (the pointer, and a byte of the id's hash so that a lookup reads few
// other channels), where a map from id to channel took about 40 bytes a
// channel (the id's string header again, and the map's slack). There is
// an entry for every channel of every call in progress.
type chanTable struct {
	slots []*channel // a power of two of them, or none
	tags  []uint8
	n     int
	seed  maphash.Seed
}

// hash is where id's channel goes first, and its tag.
func (t *chanTable) hash(id string) (int, uint8) {
	h := maphash.String(t.seed, id)
	return int(h & uint64(len(t.slots)-1)), uint8(h >> 56)
}

// find is where the channel id is, or the empty slot where it would go;
// -1: the table has no slots.
func (t *chanTable) find(id string) int {
	if len(t.slots) == 0 {
		return -1
	}
	mask := len(t.slots) - 1
	i, tag := t.hash(id)
	for ; ; i = (i + 1) & mask {
		if c := t.slots[i]; c == nil || t.tags[i] == tag && c.id == id {
			return i
		}
	}
}

// get is the channel id, or nil.
func (t *chanTable) get(id string) *channel {
	if i := t.find(id); i >= 0 {
		return t.slots[i]
	}
	return nil
}

// put makes c the channel of its id.
func (t *chanTable) put(c *channel) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.resize(max(8, 2*len(t.slots)))
	}
	i := t.find(c.id)
	if t.slots[i] == nil {
		t.n++
	}
	t.slots[i] = c
	_, t.tags[i] = t.hash(c.id)
}

// resize moves the channels to a table of n slots.
func (t *chanTable) resize(n int) {
	old := t.slots
	if t.seed == (maphash.Seed{}) {
		t.seed = maphash.MakeSeed()
	}
	t.slots, t.tags, t.n = make([]*channel, n), make([]uint8, n), 0
	for _, c := range old {
		if c != nil {
			t.put(c)
		}
	}
}

// del forgets the channel id, moving back the ones after it that would
// not be found past the slot it leaves empty. A table mostly emptied (the
// busy hour over) is made smaller.
func (t *chanTable) del(id string) {
	i := t.find(id)
	if i < 0 || t.slots[i] == nil {
		return
	}
	mask := len(t.slots) - 1
	for j := (i + 1) & mask; t.slots[j] != nil; j = (j + 1) & mask {
		// The one at j stays unless its home is outside (i, j], going
		// round the table.
		k, _ := t.hash(t.slots[j].id)
		if i <= j && (k <= i || k > j) || i > j && k <= i && k > j {
			t.slots[i], t.tags[i] = t.slots[j], t.tags[j]
			i = j
		}
	}
	t.slots[i] = nil
	t.n--
	if len(t.slots) > 8 && t.n*8 < len(t.slots) {
		t.resize(max(8, len(t.slots)/4))
	}
}

func (t *chanTable) len() int { return t.n }

// all is every channel, in no particular order.
func (t *chanTable) all() iter.Seq[*channel] {
	return func(yield func(*channel) bool) {
		for _, c := range t.slots {
			if c != nil && !yield(c) {
				return
			}
		}
	}
}
