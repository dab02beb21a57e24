package phoneindex

import (
	"encoding/binary"
	"encoding/hex"
	"hash/maphash"
	"math/bits"
	"unsafe"
)

// The index's storage: a handful of flat arrays without Go pointers, kept
// outside the Go heap (offheap_*.go), so a million numbers cost about 90
// bytes each and nothing for the garbage collector to scan or to double.
//
//   - arena: each record's id, name and attributes blob (attrs.go), one
//     after the other, each with its length in front; a canonical
//     (lower-case) GUID id is kept as its 16 bytes rather than its 36
//     characters.
//   - recs: one fixed-size rec per record, pointing into arena and keys.
//   - keys: every record's number keys, exact ones first.
//   - the exact and tail tables map a key to a record (or to a list of
//     records, in multi, on the heap: numbers held by several records are
//     few); byID maps entity and id to a record. All three are open
//     addressing tables with linear probing.
//
// Records that are replaced or deleted leave their bytes behind; once the
// garbage outweighs what is live the arrays are rebuilt.

type rec struct {
	modified int64  // unix nanoseconds
	str      uint32 // offset in arena
	key      uint32 // offset in keys
	entity   uint16
	nkeys    uint16
	tails    uint16 // the last tails keys are tail keys
	flags    uint8
}

const (
	recLive = 1 << iota
	recGUID // the id is stored as 16 bytes
)

// vec is a growable off-heap array of T (T holds no pointers).
type vec[T any] struct {
	mem []byte
	n   int
}

func (v *vec[T]) all() []T {
	if len(v.mem) == 0 {
		return nil
	}
	var z T
	return unsafe.Slice((*T)(unsafe.Pointer(&v.mem[0])), len(v.mem)/int(unsafe.Sizeof(z)))[:v.n]
}

// reserve makes room for n more elements.
func (v *vec[T]) reserve(n int) {
	var z T
	size := int(unsafe.Sizeof(z))
	if (v.n+n)*size <= len(v.mem) {
		return
	}
	nb := allocBytes(max(2*len(v.mem), (v.n+n)*size, 4096))
	copy(nb, v.mem[:v.n*size])
	freeBytes(v.mem)
	v.mem = nb
}

func (v *vec[T]) push(x T) int {
	v.reserve(1)
	v.n++
	v.all()[v.n-1] = x
	return v.n - 1
}

func (v *vec[T]) free() {
	freeBytes(v.mem)
	v.mem, v.n = nil, 0
}

// arena is a growable off-heap byte array.
type arena struct {
	mem []byte
	n   int
}

func (a *arena) reserve(n int) {
	if a.n+n <= len(a.mem) {
		return
	}
	nb := allocBytes(max(2*len(a.mem), a.n+n, 64<<10))
	copy(nb, a.mem[:a.n])
	freeBytes(a.mem)
	a.mem = nb
}

func (a *arena) free() {
	freeBytes(a.mem)
	a.mem, a.n = nil, 0
}

// put appends a record's id, name and attributes and returns their offset.
func (a *arena) put(guid bool, id, name, attrs []byte) (off uint32) {
	a.reserve(3*binary.MaxVarintLen32 + len(id) + len(name) + len(attrs))
	off = uint32(a.n)
	if !guid {
		a.n += binary.PutUvarint(a.mem[a.n:], uint64(len(id)))
	}
	a.n += copy(a.mem[a.n:], id)
	a.n += binary.PutUvarint(a.mem[a.n:], uint64(len(name)))
	a.n += copy(a.mem[a.n:], name)
	a.n += binary.PutUvarint(a.mem[a.n:], uint64(len(attrs)))
	a.n += copy(a.mem[a.n:], attrs)
	return off
}

// attrBytes returns the stored attributes blob and the offset after it,
// where the record's bytes end.
func (a *arena) attrBytes(off uint32, guid bool) (blob []byte, end int) {
	_, next := a.nameBytes(off, guid)
	b := a.mem[next:a.n]
	l, k := binary.Uvarint(b)
	return b[k : k+int(l)], next + k + int(l)
}

// nameBytes returns the stored name and the offset after it.
func (a *arena) nameBytes(off uint32, guid bool) (name []byte, end int) {
	_, next := a.idBytes(off, guid)
	b := a.mem[next:a.n]
	l, k := binary.Uvarint(b)
	return b[k : k+int(l)], next + k + int(l)
}

// idBytes returns the stored id (16 GUID bytes when guid) and where the
// name starts.
func (a *arena) idBytes(off uint32, guid bool) (id []byte, next int) {
	b := a.mem[off:a.n]
	if guid {
		return b[:16], int(off) + 16
	}
	l, k := binary.Uvarint(b)
	return b[k : k+int(l)], int(off) + k + int(l)
}

// strings returns a record's id and name as heap strings (the arena may be
// freed or moved under them later).
func (a *arena) strings(off uint32, guid bool) (id, name string) {
	raw, _ := a.idBytes(off, guid)
	if guid {
		id = unpackGUID(raw)
	} else {
		id = string(raw)
	}
	n, _ := a.nameBytes(off, guid)
	return id, string(n)
}

// packGUID packs a canonical lower-case GUID ("8-4-4-4-12" hex digits).
func packGUID(s string, g *[16]byte) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	var h [32]byte
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
		case c >= '0' && c <= '9' || c >= 'a' && c <= 'f':
			h[n] = c
			n++
		default:
			return false
		}
	}
	_, err := hex.Decode(g[:], h[:])
	return err == nil
}

func unpackGUID(g []byte) string {
	var h [32]byte
	hex.Encode(h[:], g)
	s := string(h[:8]) + "-" + string(h[8:12]) + "-" + string(h[12:16]) + "-" + string(h[16:20]) + "-" + string(h[20:])
	return s
}

// table is an open addressing hash table from a uint64 key to a uint32
// value, with linear probing; key and value share a slot, so a probe
// costs one cache miss. Value 0 marks an empty slot, so stored values are
// one more than the caller's.
type table struct {
	slots vec[slot]
	size  int // slots
	n     int // entries
}

type slot struct {
	k uint64
	v uint32
}

func (t *table) home(k uint64) int {
	h, _ := bits.Mul64(k*0x9e3779b97f4a7c15, uint64(t.size))
	return int(h)
}

// find returns the slot holding k, or -1.
func (t *table) find(k uint64) int {
	if t.n == 0 {
		return -1
	}
	s := t.slots.all()
	for i := t.home(k); ; i++ {
		if i == t.size {
			i = 0
		}
		if s[i].v == 0 {
			return -1
		}
		if s[i].k == k {
			return i
		}
	}
}

func (t *table) get(k uint64) (uint32, bool) {
	if i := t.find(k); i >= 0 {
		return t.slots.all()[i].v - 1, true
	}
	return 0, false
}

// set stores v for k, replacing any value.
func (t *table) set(k uint64, v uint32) {
	if (t.n+1)*4 > t.size*3 {
		t.grow(max(16, 2*(t.n+1)))
	}
	s := t.slots.all()
	i := t.home(k)
	for s[i].v != 0 {
		if s[i].k == k {
			s[i].v = v + 1
			return
		}
		if i++; i == t.size {
			i = 0
		}
	}
	s[i] = slot{k, v + 1}
	t.n++
}

// grow rebuilds the table with room for n entries at two thirds load.
func (t *table) grow(n int) {
	old := *t
	*t = table{size: max(16, n+n/2)}
	t.slots.reserve(t.size)
	t.slots.n = t.size
	for _, x := range old.slots.all() {
		if x.v != 0 {
			t.set(x.k, x.v-1)
		}
	}
	old.slots.free()
}

// del removes k (backward-shift deletion keeps probing chains whole).
func (t *table) del(k uint64) {
	i := t.find(k)
	if i < 0 {
		return
	}
	s := t.slots.all()
	s[i].v = 0
	t.n--
	for j := i + 1; ; j++ {
		if j == t.size {
			j = 0
		}
		if s[j].v == 0 {
			return
		}
		// Move j back to the hole unless its home lies cyclically in
		// (hole, j].
		h := t.home(s[j].k)
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			s[i] = s[j]
			s[j].v = 0
			i = j
		}
	}
}

func (t *table) bytes() int { return len(t.slots.mem) }

func (t *table) free() {
	t.slots.free()
	*t = table{}
}

// storedID is the form an id is kept in: its 16 bytes for a canonical
// GUID, else its text.
type storedID struct {
	guid bool
	g    [16]byte
	s    string
}

func makeStoredID(id string) storedID {
	var x storedID
	if x.guid = packGUID(id, &x.g); !x.guid {
		x.s = id
	}
	return x
}

func (x *storedID) bytes() []byte {
	if x.guid {
		return x.g[:]
	}
	return unsafe.Slice(unsafe.StringData(x.s), len(x.s))
}

var idSeed = maphash.MakeSeed()

// idHash keys byID by entity and stored id. Two ids with the same hash are
// told apart by comparing the stored bytes; the rare second one goes to
// the index's spill map.
func idHash(entity uint16, guid bool, id []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(idSeed)
	var pre [3]byte
	pre[0], pre[1] = byte(entity), byte(entity>>8)
	if guid {
		pre[2] = 1
	}
	_, _ = h.Write(pre[:])
	_, _ = h.Write(id)
	return h.Sum64()
}
