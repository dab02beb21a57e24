package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// Journal is one source's event log. It is not safe for concurrent use.
type Journal struct {
	path  string
	f     *os.File
	size  int64 // bytes in the file: the header and whole records
	recs  []rec // one per record in the file, then per record in pend
	pend  []byte
	npend int // records in pend
	ndesc int // descriptions in recs: the rest are events
	codec codec
	// header says the file is in the binary format, its records known:
	// new, replayed, or reset. Until then nothing is written to it.
	header bool

	mark  time.Time // see Mark
	markf *os.File
}

// errNotReplayed: appends to a journal that holds events need its replay
// first, to know where its whole records end.
var errNotReplayed = errors.New("journal: appending before the replay")

// Open opens (creating it and its directory) the journal at path.
func Open(path string) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{path: path, f: f, mark: readMark(path)}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	if fi.Size() == 0 {
		if err := j.restart(); err != nil {
			f.Close()
			return nil, err
		}
	}
	return j, nil
}

// restart empties the file and writes the header.
func (j *Journal) restart() error {
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if _, err := j.f.Write(header[:]); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.size, j.header = int64(len(header)), true
	j.codec.reset()
	return nil
}

// Replay hands every journaled event to fn, in order, and returns how many.
// A torn last record (the process died mid-write, or the machine before
// the record reached the disk) is dropped and cut off so that appends
// continue after the last whole one; a bad record elsewhere is an error.
// A JSON journal (from before the binary format) or one in version 1 of
// the binary format is replayed the same way and then rewritten in the
// current format.
func (j *Journal) Replay(fn func(bridge.Event)) (int, error) {
	if j.header {
		if err := j.Flush(); err != nil {
			return 0, err
		}
	}
	j.pend, j.npend = j.pend[:0], 0
	data, err := j.read()
	if err != nil {
		return 0, err
	}
	j.recs, j.ndesc = j.recs[:0], 0
	j.codec.reset()
	switch {
	case len(data) == 0:
		return 0, j.restart()
	case len(data) >= len(header) && [8]byte(data[:8]) == header:
		return j.replay(data, fn)
	case len(data) >= len(headerV1) && [8]byte(data[:8]) == headerV1:
		return j.replayV1(data, fn)
	case len(data) >= 7 && string(data[:7]) == string(header[:7]):
		return 0, fmt.Errorf("journal %s: format version %d, this callbridge reads %d", j.path, data[7], version)
	}
	return j.replayJSON(data, fn)
}

func (j *Journal) read() ([]byte, error) {
	fi, err := j.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	data := make([]byte, fi.Size())
	if _, err := j.f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return data, nil
}

func (j *Journal) replay(data []byte, fn func(bridge.Event)) (int, error) {
	defer j.codec.decoded()
	off := len(header)
	for off < len(data) {
		payload, n, err := frameAt(data[off:])
		if err != nil && torn(data, off, err) {
			// Torn: the last record, cut short or not all on disk.
			if terr := j.f.Truncate(int64(off)); terr != nil {
				return j.Len(), fmt.Errorf("journal: %w", terr)
			}
			break
		}
		if err != nil {
			return j.Len(), fmt.Errorf("journal %s: record %d: %w", j.path, len(j.recs)+1, err)
		}
		var ev bridge.Event
		r := rec{n: uint32(n)}
		isEvent, err := j.codec.decode(payload, &ev, &r)
		if err != nil {
			return j.Len(), fmt.Errorf("journal %s: record %d: %w", j.path, len(j.recs)+1, err)
		}
		j.recs = append(j.recs, r)
		off += n
		if !isEvent {
			j.ndesc++
			continue
		}
		fn(ev)
	}
	j.size, j.header = int64(off), true
	return j.Len(), nil
}

// torn tells whether the frame at off that failed with err is the last
// record, cut short or not all on disk.
func torn(data []byte, off int, err error) bool {
	return errors.Is(err, errShort) || off+frameLen+recordLen(data[off:]) >= len(data)
}

// recordLen is the payload length a frame at the start of b claims.
func recordLen(b []byte) int {
	if len(b) < 4 {
		return 0
	}
	return int(binary.LittleEndian.Uint32(b))
}

// Append adds one event to the batch being built; Flush writes it. A
// journal that holds events is replayed (or reset) before the first
// Append.
func (j *Journal) Append(ev bridge.Event) error {
	start, nrec := len(j.pend), len(j.recs)
	j.pend, j.recs = j.codec.encode(j.pend, &ev, j.recs)
	if size := len(j.pend) - start - frameLen; size > maxRecord {
		// The descriptions written for it go too, and with them what
		// the codec knows.
		j.pend, j.recs = j.pend[:start], j.recs[:nrec]
		j.codec.reset()
		return fmt.Errorf("journal: event of %d bytes is too long", size)
	}
	j.ndesc += len(j.recs) - nrec - 1
	j.npend += len(j.recs) - nrec
	return nil
}

// Flush writes the events appended since the last Flush with one write.
// When the write fails they are not in the journal (what the write left
// of them is cut off), and the error says so.
func (j *Journal) Flush() error {
	if len(j.pend) == 0 {
		return nil
	}
	if !j.header {
		j.recs, j.pend, j.npend, j.ndesc = j.recs[:0], j.pend[:0], 0, 0
		j.codec.reset()
		return errNotReplayed
	}
	n, err := j.f.Write(j.pend)
	if err != nil {
		// Whole records only: drop the batch.
		if n > 0 {
			_ = j.f.Truncate(j.size)
		}
		// The batch's descriptions go with it: the codec starts again.
		kept := j.recs[:len(j.recs)-j.npend]
		j.ndesc -= descs(j.recs[len(kept):])
		j.recs, j.pend, j.npend = kept, j.pend[:0], 0
		j.codec.reset()
		return fmt.Errorf("journal: %w", err)
	}
	j.size += int64(n)
	j.pend, j.npend = j.pend[:0], 0
	return nil
}

// Len is the number of events in the journal, written or not.
func (j *Journal) Len() int { return len(j.recs) - j.ndesc }

func descs(recs []rec) int {
	n := 0
	for i := range recs {
		if recs[i].isDesc() {
			n++
		}
	}
	return n
}

// Reset empties the journal: nothing in it is needed any more (no call is
// open).
func (j *Journal) Reset() error {
	j.recs, j.pend, j.npend, j.ndesc = j.recs[:0], j.pend[:0], 0, 0
	j.codec.reset()
	if j.header && j.size == int64(len(header)) {
		return nil
	}
	if j.header {
		if err := j.f.Truncate(int64(len(header))); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		j.size = int64(len(header))
		return nil
	}
	return j.restart()
}

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
	recs, size, err := j.copyKept(out, open)
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
	j.f, j.recs, j.size, j.header, j.ndesc = f, recs, size, true, descs(recs)
	// A channel no longer open is described again if it comes back: its
	// description may be gone. An open one's is kept (it names it).
	j.codec.forget(open)
	return nil
}

// copyKept writes the header and the kept records to out, reading runs of
// consecutive kept records with one read each.
func (j *Journal) copyKept(out *os.File, open func(string) bool) ([]rec, int64, error) {
	w := bufio.NewWriterSize(out, 64<<10)
	w.Write(header[:])
	size := int64(len(header))
	var kept []rec
	var buf []byte
	// run is the file range of kept records not yet copied.
	var runOff, runEnd int64
	flushRun := func() error {
		if runEnd == runOff {
			return nil
		}
		buf = grow(buf, int(runEnd-runOff))
		if _, err := j.f.ReadAt(buf, runOff); err != nil {
			return err
		}
		_, err := w.Write(buf)
		runOff = runEnd
		return err
	}
	off := int64(len(header)) // of r, in the file
	for _, r := range j.recs {
		at := off
		off += int64(r.n)
		keep, all, chans := decide(&r, open)
		if !keep {
			if err := flushRun(); err != nil {
				return nil, 0, err
			}
			runOff, runEnd = off, off
			continue
		}
		if all {
			if runEnd != at {
				if err := flushRun(); err != nil {
					return nil, 0, err
				}
				runOff = at
			}
			runEnd = off
			size += int64(r.n)
			kept = append(kept, r)
			continue
		}
		// A snapshot losing some channels: splice the kept ones.
		if err := flushRun(); err != nil {
			return nil, 0, err
		}
		runOff, runEnd = off, off
		buf = grow(buf, int(r.n))
		if _, err := j.f.ReadAt(buf, at); err != nil {
			return nil, 0, err
		}
		frame, nr := splice(buf[frameLen:], &r, chans)
		if _, err := w.Write(frame); err != nil {
			return nil, 0, err
		}
		size += int64(nr.n)
		kept = append(kept, nr)
	}
	if err := flushRun(); err != nil {
		return nil, 0, err
	}
	return kept, size, w.Flush()
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
	b := make([]byte, frameLen, frameLen+len(payload))
	b = append(b, payload[:count]...)
	b = binary.AppendUvarint(b, uint64(len(chans)))
	snap := &snapRec{count: count, chans: make([]chanRef, len(chans))}
	nr := rec{ch: r.ch, more: &recMore{ids: r.more.ids, snap: snap}}
	for i, c := range chans {
		snap.chans[i] = chanRef{id: c.id, off: len(b) - frameLen, n: c.n}
		b = append(b, payload[c.off:c.off+c.n]...)
	}
	seal(b)
	nr.n = uint32(len(b))
	return b, nr
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// Sync flushes the journal to disk (for machine crashes; process crashes
// need no sync).
func (j *Journal) Sync() error {
	if err := j.Flush(); err != nil {
		return err
	}
	return j.f.Sync()
}

// Close closes the file. Events appended since the last Flush are not
// written: a batch is written whole or, as when the process is killed,
// not at all.
func (j *Journal) Close() error {
	if j.markf != nil {
		j.markf.Close()
		j.markf = nil
	}
	return j.f.Close()
}
