package journal

import "hash/maphash"

// chanSet finds an open channel's description by the channel's id. It is
// a table of pointers with open addressing: 9 bytes a slot, the id being
// the description's own, where a map from id to description took about
// 40 bytes a channel (the id's string header again, and the map's slack).
// There is one entry per open channel.
type chanSet struct {
	slots []*described // a power of two of them, or none
	// tags has a byte of each slot's id's hash, so that a lookup reads
	// the descriptions of few others.
	tags []uint8
	n    int
	seed maphash.Seed
}

// hash is where id's description goes first, and its tag.
func (s *chanSet) hash(id string) (int, uint8) {
	h := maphash.String(s.seed, id)
	return int(h & uint64(len(s.slots)-1)), uint8(h >> 56)
}

// find is where the description of id is, or the empty slot where it
// would go; -1: the table has no slots.
func (s *chanSet) find(id string) int {
	if len(s.slots) == 0 {
		return -1
	}
	mask := len(s.slots) - 1
	i, tag := s.hash(id)
	for ; ; i = (i + 1) & mask {
		if d := s.slots[i]; d == nil || s.tags[i] == tag && d.id == id {
			return i
		}
	}
}

func (s *chanSet) get(id string) *described {
	if i := s.find(id); i >= 0 {
		return s.slots[i]
	}
	return nil
}

// put makes d the description of its id.
func (s *chanSet) put(d *described) {
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
	}
	i := s.find(d.id)
	if s.slots[i] == nil {
		s.n++
	}
	s.slots[i] = d
	_, s.tags[i] = s.hash(d.id)
}

func (s *chanSet) grow() {
	old := s.slots
	if len(old) == 0 {
		s.seed = maphash.MakeSeed()
	}
	s.make(max(8, 2*len(old)))
	for _, d := range old {
		if d != nil {
			s.put(d)
		}
	}
}

func (s *chanSet) make(n int) {
	s.slots, s.tags, s.n = make([]*described, n), make([]uint8, n), 0
}

// del forgets id's description, moving back the ones after it that
// would not be found past the slot it leaves empty.
func (s *chanSet) del(id string) {
	i := s.find(id)
	if i < 0 || s.slots[i] == nil {
		return
	}
	mask := len(s.slots) - 1
	for j := (i + 1) & mask; s.slots[j] != nil; j = (j + 1) & mask {
		// The one at j stays unless its home is outside (i, j], going
		// round the table.
		k, _ := s.hash(s.slots[j].id)
		if i <= j && (k <= i || k > j) || i > j && k <= i && k > j {
			s.slots[i], s.tags[i] = s.slots[j], s.tags[j]
			i = j
		}
	}
	s.slots[i] = nil
	s.n--
}

// keep forgets the descriptions keep does not approve.
func (s *chanSet) keep(keep func(*described) bool) {
	old := s.slots
	s.slots, s.tags, s.n = nil, nil, 0
	if len(old) > 0 {
		s.make(len(old))
	}
	for _, d := range old {
		if d != nil && keep(d) {
			s.put(d)
		}
	}
	// A table mostly emptied is made smaller: it stays at 8 bytes a
	// slot, one per open channel at the most.
	for len(s.slots) > 8 && s.n*8 < len(s.slots) {
		old = s.slots
		s.make(len(old) / 4)
		for _, d := range old {
			if d != nil {
				s.put(d)
			}
		}
	}
}

// each calls fn with every description.
func (s *chanSet) each(fn func(*described)) {
	for _, d := range s.slots {
		if d != nil {
			fn(d)
		}
	}
}

func (s *chanSet) reset() {
	clear(s.slots)
	s.n = 0
}
