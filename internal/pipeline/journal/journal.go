package journal

import (
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
	path string
	f    *os.File
	size int64 // bytes in the file: the header and whole batches
	recs notes // one per record in the file, then per record in pend
	// scratch takes the notes of an event's records being encoded.
	scratch []rec
	pend    []byte
	open    int // where in pend the batch being filled starts
	npend   int // records in pend
	ndesc   int // descriptions in recs: the rest are events
	codec   codec
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
	j.recs.cut(0)
	j.ndesc = 0
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
	off, nb := len(header), 0
	for ; off < len(data); nb++ {
		batch, n, err := frameAt(data[off:])
		if err != nil && torn(data, off, err) {
			// Torn: the last batch, cut short or not all on disk.
			if terr := j.f.Truncate(int64(off)); terr != nil {
				return j.Len(), fmt.Errorf("journal: %w", terr)
			}
			break
		}
		if err != nil {
			return j.Len(), fmt.Errorf("journal %s: batch %d: %w", j.path, nb+1, err)
		}
		for len(batch) > 0 {
			payload, rn, err := recordAt(batch)
			var ev bridge.Event
			var r rec
			isEvent := false
			if err == nil {
				isEvent, err = j.codec.decode(payload, &ev, &r)
			}
			if err != nil {
				return j.Len(), fmt.Errorf("journal %s: record %d: %w", j.path, j.recs.len()+1, err)
			}
			j.recs.add(r)
			batch = batch[rn:]
			if !isEvent {
				j.ndesc++
				continue
			}
			fn(ev)
		}
		off += n
	}
	j.size, j.header = int64(off), true
	return j.Len(), nil
}

// torn tells whether the frame at off that failed with err is the last
// batch, cut short or not all on disk.
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
	j.openBatch()
	start := len(j.pend)
	j.pend, j.scratch = j.codec.encode(j.pend, &ev, j.scratch[:0])
	if size := len(j.pend) - start; size > maxEvent {
		// The descriptions written for it go too, and with them what
		// the codec knows.
		j.pend = j.pend[:start]
		clear(j.scratch)
		j.codec.reset()
		return fmt.Errorf("journal: event of %d bytes is too long", size)
	}
	j.added()
	return nil
}

// openBatch starts a batch in pend when there is none, or when the one
// being filled is full (a replay reads a batch whole).
func (j *Journal) openBatch() {
	if len(j.pend) > 0 && len(j.pend)-j.open < batchMax {
		return
	}
	if len(j.pend) > 0 {
		seal(j.pend[j.open:])
	}
	j.open = len(j.pend)
	j.pend = append(j.pend, 0, 0, 0, 0, 0, 0, 0, 0)
}

// added notes the records of an event just appended to pend, from
// scratch.
func (j *Journal) added() {
	n := len(j.scratch)
	j.recs.add(j.scratch...)
	clear(j.scratch)
	j.ndesc += n - 1 // the event's descriptions
	j.npend += n
}

// Flush writes the events appended since the last Flush with one write.
// When the write fails they are not in the journal (what the write left
// of them is cut off), and the error says so.
func (j *Journal) Flush() error {
	if len(j.pend) == 0 {
		return nil
	}
	if !j.header {
		j.dropPend()
		return errNotReplayed
	}
	seal(j.pend[j.open:])
	n, err := j.f.Write(j.pend)
	if err != nil {
		// Whole records only: drop the batch.
		if n > 0 {
			_ = j.f.Truncate(j.size)
		}
		// The batch's descriptions go with it: the codec starts again.
		kept := j.recs.len() - j.npend
		j.ndesc -= j.recs.descs(kept)
		j.recs.cut(kept)
		j.pend, j.npend = j.pend[:0], 0
		j.codec.reset()
		return fmt.Errorf("journal: %w", err)
	}
	j.size += int64(n)
	j.pend, j.npend = j.pend[:0], 0
	return nil
}

// Len is the number of events in the journal, written or not.
func (j *Journal) Len() int { return j.recs.len() - j.ndesc }

// Reset empties the journal: nothing in it is needed any more (no call is
// open).
func (j *Journal) Reset() error {
	j.dropPend()
	j.recs.cut(0)
	j.ndesc = 0
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
