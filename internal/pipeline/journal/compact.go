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
	j.f, j.recs, j.batches, j.size, j.header, j.ndesc = f, c.recs, c.batches, c.size, true, c.recs.descs(0)
	// A channel no longer open is described again if it comes back: its
	// description may be gone. An open one's is kept (it names it).
	j.codec.forget(open)
	return nil
}

// readMax bounds what a compaction reads at a time.
const readMax = 256 << 10

// compacted is the journal a compaction writes.
type compacted struct {
	w       *bufio.Writer
	recs    notes
	batches []uint32
	size    int64
	batch   []byte // being filled: the frame, then records
	n       uint32 // records in batch
}

// copyKept writes the header and the kept records to out, in batches of
// up to batchMax bytes. It reads the journal's batches a run of them at a
// time, up to readMax bytes (or one batch, if longer).
func (j *Journal) copyKept(out *os.File, open func(string) bool) (*compacted, error) {
	c := &compacted{w: bufio.NewWriterSize(out, 64<<10), size: int64(len(header))}
	c.w.Write(header[:])
	var in []byte
	off := int64(len(header))     // of the run, in the file
	batches, next := j.batches, 0 // next: the run's first record
	sizes := j.recs.sizes
	for len(batches) > 0 {
		// The run: its batches' sizes, and its records.
		size, nb, nrec := 0, 0, 0
		for nb < len(batches) {
			bsize := frameLen
			for _, n := range sizes[next+nrec : next+nrec+int(batches[nb])] {
				bsize += int(n)
			}
			if nb > 0 && size+bsize > readMax {
				break
			}
			size += bsize
			nrec += int(batches[nb])
			nb++
		}
		in = grow(in, size)
		if _, err := j.f.ReadAt(in, off); err != nil {
			return nil, err
		}
		off += int64(size)
		at := 0
		for _, n := range batches[:nb] {
			at += frameLen
			for i := next; i < next+int(n); i++ {
				r := j.recs.at(i)
				b := in[at : at+int(r.n)]
				at += int(r.n)
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
			next += int(n)
		}
		batches = batches[nb:]
	}
	if err := c.end(); err != nil {
		return nil, err
	}
	return c, c.w.Flush()
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
	c.batches = append(c.batches, c.n)
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
			for _, id := range r.more.ids {
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
	nr := rec{ch: r.ch, more: &recMore{ids: r.more.ids, snap: snap}}
	for i, c := range chans {
		snap.chans[i] = chanRef{id: c.id, off: len(b) - 1, n: c.n}
		b = append(b, payload[c.off:c.off+c.n]...)
	}
	b = closeRecord(b, 0)
	nr.n = uint32(len(b))
	return b, nr
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
