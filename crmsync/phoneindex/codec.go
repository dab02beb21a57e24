package phoneindex

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// ErrCorrupt marks a persisted snapshot that cannot be read.
var ErrCorrupt = errors.New("snapshot unreadable")

// maxSnapshot bounds a decompressed legacy snapshot (about 10 million
// numbers), so a corrupt or hostile file cannot exhaust memory.
const maxSnapshot = 2 << 30

// The cache file: a magic line, a JSON header (settings, state, the entity
// names used below, counts to size the arrays with), the records in a
// compact binary form straight from the index's arrays, and a CRC-32C of
// everything after the magic. A million numbers load in a fraction of a
// second and without building anything on the heap that is not kept.
//
// Version 2 follows each record's name with its attributes blob
// (attrs.go); version 1, without it, is still read.
const (
	magic   = "CBPHIX2\n"
	magicV1 = "CBPHIX1\n"
)

// Bounds that no real record reaches; a file beyond them is corrupt.
const (
	maxRecords   = 100_000_000
	maxHeader    = 16 << 20
	maxIDLen     = 4 << 10
	maxNameLen   = 64 << 10
	maxRecordKey = 1 << 16
)

type header struct {
	Settings Settings `json:"settings"`
	State    State    `json:"state"`
	Entities []string `json:"entities"`
	Records  int      `json:"records"`
	Arena    int      `json:"arena"`
	Keys     int      `json:"keys"`
	Deleted  bool     `json:"deleted,omitempty"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeSnapshot writes s in the cache format. s.lock, if set, is held
// while s.index is read.
func encodeSnapshot(w io.Writer, s *Snapshot) error {
	if s.lock != nil {
		s.lock.Lock()
		defer s.lock.Unlock()
	}
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 256<<10)
	if _, err := w.Write([]byte(magic)); err != nil {
		return err
	}
	h := header{Settings: s.Settings, State: s.State, Deleted: s.Deleted}
	var recs []storedRecord
	if ix := s.index; ix != nil {
		for _, e := range ix.entities {
			h.Entities = append(h.Entities, e.Name)
		}
		h.Records, h.Arena, h.Keys = ix.live, ix.mem.arena.n, ix.numbers
	} else {
		recs = s.Records
		seen := map[string]bool{}
		for _, r := range recs {
			if !seen[r.Entity] {
				seen[r.Entity] = true
				h.Entities = append(h.Entities, r.Entity)
			}
			h.Arena += len(r.ID) + len(r.Name) + len(r.attrs.encode()) + 3*binary.MaxVarintLen32
			h.Keys += len(r.Exact) + len(r.Tails)
		}
		h.Records = len(recs)
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return err
	}
	var buf [binary.MaxVarintLen64]byte
	put := func(v uint64) { _, _ = bw.Write(buf[:binary.PutUvarint(buf[:], v)]) }
	put(uint64(len(hj)))
	_, _ = bw.Write(hj)
	record := func(entity int, guid bool, id, name, attrs []byte, modified int64, exact, tails []uint64) {
		put(uint64(entity))
		if guid {
			_ = bw.WriteByte(1)
			_, _ = bw.Write(id)
		} else {
			_ = bw.WriteByte(0)
			put(uint64(len(id)))
			_, _ = bw.Write(id)
		}
		put(uint64(len(name)))
		_, _ = bw.Write(name)
		put(uint64(len(attrs)))
		_, _ = bw.Write(attrs)
		_, _ = bw.Write(buf[:binary.PutVarint(buf[:], modified)])
		put(uint64(len(exact)))
		put(uint64(len(tails)))
		for _, k := range exact {
			put(k)
		}
		for _, k := range tails {
			put(k)
		}
	}
	if ix := s.index; ix != nil {
		keys := ix.mem.keys.all()
		for _, r := range ix.mem.recs.all() {
			if r.flags&recLive == 0 {
				continue
			}
			guid := r.flags&recGUID != 0
			id, _ := ix.mem.arena.idBytes(r.str, guid)
			name, _ := ix.mem.arena.nameBytes(r.str, guid)
			blob, _ := ix.mem.arena.attrBytes(r.str, guid)
			k := keys[r.key : r.key+uint32(r.nkeys)]
			n := len(k) - int(r.tails)
			record(int(r.entity), guid, id, name, blob, r.modified, k[:n], k[n:])
		}
	} else {
		index := map[string]int{}
		for i, e := range h.Entities {
			index[e] = i
		}
		for _, r := range recs {
			id := makeStoredID(r.ID)
			record(index[r.Entity], id.guid, id.bytes(), []byte(r.Name), r.attrs.encode(), r.Modified, r.Exact, r.Tails)
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], crc.Sum32())
	_, err = w.Write(sum[:])
	return err
}

// decodeSnapshot reads a cache file: the current format, version 1, or the
// gzipped JSON of earlier versions. Damage gives an error wrapping
// ErrCorrupt, never a panic: the integration then starts empty and syncs.
//
// size is the file's length: the arrays are sized from the header, and a
// header claiming more than so many bytes can hold is refused before
// anything is reserved, so a damaged file cannot exhaust memory.
//
// A file from before record attributes holds none, though the source may
// have them: its State says there was no full sync yet, so the next sync
// reads every record again (lookups answer from the file meanwhile).
func decodeSnapshot(r io.Reader, size int64) (*Snapshot, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	head, err := br.Peek(len(magic))
	if err == nil && (string(head) == magic || string(head) == magicV1) {
		_, _ = br.Discard(len(magic))
		withAttrs := string(head) == magic
		s, err := decodeBinary(br, withAttrs, size)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if !withAttrs {
			s.State.LastFull = time.Time{}
		}
		return s, nil
	}
	s, err := decodeLegacy(br)
	if err != nil {
		return nil, err
	}
	s.State.LastFull = time.Time{}
	return s, nil
}

// decodeLegacy reads the gzipped JSON snapshot of earlier versions.
func decodeLegacy(r io.Reader) (*Snapshot, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	defer zr.Close()
	var s Snapshot
	dec := json.NewDecoder(io.LimitReader(zr, maxSnapshot))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return &s, nil
}

// crcReader reads the snapshot in place out of the bufio.Reader's buffer
// and hashes what it consumed each time it moves past that buffer: a byte
// or a varint costs an index into a slice, where reading each through
// io.ByteReader and copying it aside for the hash was a fifth of a
// million-record load.
type crcReader struct {
	r   *bufio.Reader
	crc hash.Hash32
	win []byte // what r holds buffered, not yet discarded
	i   int    // how much of win is consumed
}

// flush hashes and discards what was consumed.
func (c *crcReader) flush() {
	_, _ = c.crc.Write(c.win[:c.i])
	_, _ = c.r.Discard(c.i)
	c.win, c.i = nil, 0
}

// refill flushes, then looks at what r holds, filling it if it is empty.
func (c *crcReader) refill() error {
	c.flush()
	if c.r.Buffered() == 0 {
		if _, err := c.r.Peek(1); err != nil {
			return err
		}
	}
	c.win, _ = c.r.Peek(c.r.Buffered())
	return nil
}

func (c *crcReader) ReadByte() (byte, error) {
	if c.i == len(c.win) {
		if err := c.refill(); err != nil {
			return 0, err
		}
	}
	b := c.win[c.i]
	c.i++
	return b, nil
}

// uvarint and varint read one varint, as binary.ReadUvarint and
// ReadVarint would.
func (c *crcReader) uvarint() (uint64, error) {
	if len(c.win)-c.i >= binary.MaxVarintLen64 {
		v, n := binary.Uvarint(c.win[c.i:])
		if n > 0 {
			c.i += n
			return v, nil
		}
	}
	return binary.ReadUvarint(c) // near the buffer's end, or an overflow to report as it does
}

func (c *crcReader) varint() (int64, error) {
	ux, err := c.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x, err
}

// read returns the next n bytes; the slice is valid until the next call.
func (c *crcReader) read(n int) ([]byte, error) {
	if len(c.win)-c.i >= n {
		b := c.win[c.i : c.i+n]
		c.i += n
		return b, nil
	}
	c.flush()
	if _, err := c.r.Peek(n); err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			b := make([]byte, n)
			if _, err := io.ReadFull(c.r, b); err != nil {
				return nil, err
			}
			_, _ = c.crc.Write(b)
			return b, nil
		}
		return nil, err
	}
	c.win, _ = c.r.Peek(c.r.Buffered())
	c.i = n
	return c.win[:n], nil
}

// minRecordBytes is the least a record takes in the file: entity, id kind,
// a one-byte id and its length, name length, time, two key counts, a key.
const minRecordBytes = 9

func decodeBinary(br *bufio.Reader, withAttrs bool, size int64) (*Snapshot, error) {
	cr := &crcReader{r: br, crc: crc32.New(castagnoli)}
	hl, err := cr.uvarint()
	if err != nil || hl > maxHeader {
		return nil, fmt.Errorf("header length: %v", err)
	}
	hb, err := cr.read(int(hl))
	if err != nil {
		return nil, err
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if h.Records < 0 || h.Records > maxRecords || h.Arena < 0 || h.Arena > maxRecords*(maxIDLen+64) || h.Keys < 0 || h.Keys > maxRecords*16 {
		return nil, errors.New("header: counts out of range")
	}
	if int64(h.Records) > size/minRecordBytes || int64(h.Keys) > size {
		return nil, fmt.Errorf("header: %d records and %d keys do not fit in %d bytes", h.Records, h.Keys, size)
	}
	s := &Snapshot{Settings: h.Settings, State: h.State, Deleted: h.Deleted}
	st := s.Settings.withDefaults()
	ix, ixErr := NewIndex(st.Entities, Options{Region: st.Region, TailDigits: st.TailDigits})
	entity := make([]int, len(h.Entities)) // file entity -> index entity, -1: not configured
	for i, name := range h.Entities {
		entity[i] = -1
		if ixErr == nil {
			if e, ok := ix.entIdx[name]; ok {
				entity[i] = int(e)
			}
		}
	}
	if ixErr == nil {
		// Sized once from the header: loading builds nothing twice.
		arenaBytes := h.Arena
		if !withAttrs {
			arenaBytes += h.Records // each record's empty blob
		}
		// The header's arena may count bytes of replaced records; a
		// record's arena bytes are never more than its file bytes.
		ix.mem.arena.reserve(int(min(int64(arenaBytes), size, maxSnapshot)) + 64) // put asks for a little slack
		ix.mem.recs.reserve(h.Records)
		ix.mem.keys.reserve(h.Keys)
		ix.mem.byID.grow(h.Records)
		ix.mem.exact.grow(h.Keys)
	}
	// What cr.read returns lives in br's buffer, which the next read may
	// refill: the id, name and attributes are copied out before the reads
	// after them.
	var keys []uint64
	var idBuf, nameBuf, attrBuf []byte
	for range h.Records {
		ei, err := cr.uvarint()
		if err != nil || ei >= uint64(len(h.Entities)) {
			return nil, fmt.Errorf("record entity: %v", err)
		}
		flag, err := cr.ReadByte()
		if err != nil || flag > 1 {
			return nil, fmt.Errorf("record id kind: %v", err)
		}
		var id storedID
		if id.guid = flag == 1; id.guid {
			b, err := cr.read(16)
			if err != nil {
				return nil, err
			}
			copy(id.g[:], b)
		} else {
			n, err := cr.uvarint()
			if err != nil || n == 0 || n > maxIDLen {
				return nil, fmt.Errorf("record id: %v", err)
			}
			b, err := cr.read(int(n))
			if err != nil {
				return nil, err
			}
			idBuf = append(idBuf[:0], b...)
			id.s = unsafe.String(unsafe.SliceData(idBuf), len(idBuf)) // insert copies it
		}
		nl, err := cr.uvarint()
		if err != nil || nl > maxNameLen {
			return nil, fmt.Errorf("record name: %v", err)
		}
		nb, err := cr.read(int(nl))
		if err != nil {
			return nil, err
		}
		nameBuf = append(nameBuf[:0], nb...)
		name := nameBuf // insert copies it
		attrBuf = attrBuf[:0]
		if withAttrs {
			al, err := cr.uvarint()
			if err != nil || al > maxAttrs {
				return nil, fmt.Errorf("record attributes: %v", err)
			}
			if al > 0 {
				ab, err := cr.read(int(al))
				if err != nil {
					return nil, err
				}
				if err := checkAttrs(ab); err != nil {
					return nil, err
				}
				attrBuf = append(attrBuf, ab...)
			}
		}
		modified, err := cr.varint()
		if err != nil {
			return nil, err
		}
		ne, err1 := cr.uvarint()
		nt, err2 := cr.uvarint()
		if err1 != nil || err2 != nil || ne+nt == 0 || ne+nt > maxRecordKey {
			return nil, errors.New("record keys: bad count")
		}
		keys = keys[:0]
		for range ne + nt {
			k, err := cr.uvarint()
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
		if ixErr != nil {
			// No index to load into (settings a test left out): keep
			// the records as such.
			n := int(ne)
			s.Records = append(s.Records, storedRecord{Entity: h.Entities[ei], ID: strings.Clone(idString(&id)), Name: string(name),
				attrs: decodeAttrs(attrBuf), Modified: modified, Exact: append([]uint64(nil), keys[:n]...), Tails: append([]uint64(nil), keys[n:]...)})
			continue
		}
		if entity[ei] < 0 {
			continue
		}
		if !distinct(keys, int(ne)) {
			return nil, errors.New("record keys: repeated")
		}
		ix.appendRecord(uint16(entity[ei]), &id, name, attrBuf, modified, keys, int(nt))
	}
	cr.flush()
	want := cr.crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(br, sum[:]); err != nil {
		return nil, fmt.Errorf("checksum: %w", err)
	}
	if binary.LittleEndian.Uint32(sum[:]) != want {
		return nil, errors.New("checksum mismatch")
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, errors.New("bytes after the checksum")
	}
	if ixErr == nil {
		if err := ix.indexAppended(0); err != nil {
			return nil, err
		}
		s.index = ix
	}
	return s, nil
}

// distinct reports whether the exact keys (the first n) and the tail keys
// each hold no repeats, as insert requires.
func distinct(keys []uint64, n int) bool {
	for i := range keys {
		lo := 0
		if i >= n {
			lo = n
		}
		for j := lo; j < i; j++ {
			if keys[j] == keys[i] {
				return false
			}
		}
	}
	return true
}

func idString(id *storedID) string {
	if id.guid {
		return unpackGUID(id.g[:])
	}
	return id.s
}

// lockedSnapshot is a Snapshot of a live index, read under lock.
func lockedSnapshot(settings Settings, state State, ix *Index, lock sync.Locker) *Snapshot {
	return &Snapshot{Settings: settings, State: state, index: ix, lock: lock}
}
