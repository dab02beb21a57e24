package journal

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
)

// Compact rewrites the journal keeping only the events about a channel
// open approves (a snapshot keeps the channels it approves, and goes when
// none is left), through a temporary file renamed into place, so a crash
// mid-way leaves the old journal whole. It copies the kept records' bytes
// as they are, from what it noted when they were written or replayed:
// nothing is decoded again. A description goes when none of the channels
// named by the events referring to it is open (record.go says why every
// kept event's descriptions are kept).
func (j *Journal) Compact(open func(id string) bool) error {
	if err := j.Flush(); err != nil {
		return err
	}
	tmp := j.path + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	c, err := j.copyKept(out, open)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, j.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("journal: compact: %w", err)
	}
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.f.Close()
	j.f, j.recs, j.size, j.header, j.ndesc = f, c.recs, c.size, true, c.recs.descs(0)
	// A channel no longer open is described again if it comes back: its
	// description may be gone. An open one's is kept (it names it).
	j.codec.forget(open)
	return nil
}

// readMax bounds what a compaction reads at a time.
const readMax = 256 << 10

// compacted is the journal a compaction writes.
type compacted struct {
	w     *bufio.Writer
	recs  notes
	size  int64
	batch []byte // being filled: the frame, then records
	n     uint32 // records in batch
}

// copyKept writes the header and the kept records to out, in batches of
// up to batchMax bytes. It reads the journal up to readMax bytes at a time
// (or one batch, if longer), and finds the batches and records by their
// lengths, as a replay does: the checksums were checked when they were
// written or replayed.
func (j *Journal) copyKept(out *os.File, open func(string) bool) (*compacted, error) {
	c := &compacted{w: bufio.NewWriterSize(out, 64<<10), size: int64(len(header))}
	c.w.Write(header[:])
	rd := fileReader{f: j.f, end: j.size}
	pos, next := int64(len(header)), 0 // next: the next record's note
	for pos < j.size {
		h, err := rd.at(pos, frameLen)
		if err != nil {
			return nil, err
		}
		size := int(binary.LittleEndian.Uint32(h))
		frame, err := rd.at(pos, frameLen+size)
		if err != nil {
			return nil, err
		}
		pos += int64(frameLen + size)
		for batch := frame[frameLen:]; len(batch) > 0; next++ {
			_, n, err := recordAt(batch)
			if err != nil || next >= j.recs.len() {
				return nil, fmt.Errorf("record %d: not as written", next+1)
			}
			b := batch[:n]
			batch = batch[n:]
			r := j.recs.at(next)
			keep, all, chans := decide(&r, open)
			switch {
			case !keep:
				continue
			case !all:
				// A snapshot losing some channels: splice the kept ones.
				_, k := binary.Uvarint(b)
				b, r = splice(b[k:], &r, chans)
			}
			if err := c.add(b, r); err != nil {
				return nil, err
			}
		}
	}
	if next != j.recs.len() {
		return nil, fmt.Errorf("%d records, %d noted", next, j.recs.len())
	}
	if err := c.end(); err != nil {
		return nil, err
	}
	return c, c.w.Flush()
}

// fileReader reads a file's bytes up to end, readMax at a time.
type fileReader struct {
	f    *os.File
	end  int64
	buf  []byte
	base int64 // where buf is in the file
}

// at is the n bytes at off, valid until the next call.
func (r *fileReader) at(off int64, n int) ([]byte, error) {
	if off < r.base || off+int64(n) > r.base+int64(len(r.buf)) {
		size := int64(max(n, readMax))
		size = min(size, r.end-off)
		if size < int64(n) {
			return nil, fmt.Errorf("batch at %d: past the end", off)
		}
		r.buf = grow(r.buf, int(size))
		if _, err := r.f.ReadAt(r.buf, off); err != nil {
			return nil, err
		}
		r.base = off
	}
	return r.buf[off-r.base : off-r.base+int64(n)], nil
}

// add copies a kept record into the batch being filled.
func (c *compacted) add(b []byte, r rec) error {
	if c.n > 0 && len(c.batch)+len(b) > batchMax {
		if err := c.end(); err != nil {
			return err
		}
	}
	if len(c.batch) == 0 {
		c.batch = append(c.batch, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	c.batch = append(c.batch, b...)
	c.recs.add(r)
	c.n++
	return nil
}

// end writes the batch being filled.
func (c *compacted) end() error {
	if c.n == 0 {
		return nil
	}
	seal(c.batch)
	if _, err := c.w.Write(c.batch); err != nil {
		return err
	}
	c.size += int64(len(c.batch))
	c.batch, c.n = c.batch[:0], 0
	return nil
}

// decide tells whether r is kept, whole or (a snapshot) with only chans.
func decide(r *rec, open func(string) bool) (keep, all bool, chans []chanRef) {
	snap := r.snap()
	if snap == nil {
		if id := r.id(); id != "" && open(id) {
			return true, true, nil
		}
		if r.more != nil {
			for _, id := range r.more.idList() {
				if id != "" && open(id) {
					return true, true, nil
				}
			}
		}
		return false, false, nil
	}
	for _, c := range snap.chans {
		if open(c.id) {
			chans = append(chans, c)
		}
	}
	return len(chans) > 0, len(chans) == len(snap.chans), chans
}

// splice builds a snapshot record holding only chans of payload's.
func splice(payload []byte, r *rec, chans []chanRef) ([]byte, rec) {
	count := r.snap().count
	b := make([]byte, 1, 1+len(payload))
	b = append(b, payload[:count]...)
	b = binary.AppendUvarint(b, uint64(len(chans)))
	snap := &snapRec{count: count, chans: make([]chanRef, len(chans))}
	nr := rec{ch: r.ch, more: new(recMore)}
	nr.more.setIDs(r.more.idList())
	nr.more.more().snap = snap
	for i, c := range chans {
		snap.chans[i] = chanRef{id: c.id, off: len(b) - 1, n: c.n}
		b = append(b, payload[c.off:c.off+c.n]...)
	}
	b = closeRecord(b, 0)
	return b, nr
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
