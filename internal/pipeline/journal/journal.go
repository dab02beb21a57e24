package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
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
	n    int // events in the file
	buf  bytes.Buffer

	mark  time.Time // see Mark
	markf *os.File
}

// maxLine bounds one journaled event (a snapshot of thousands of channels
// fits many times over).
const maxLine = 64 << 20

// Open opens (creating it and its directory) the journal at path.
func Open(path string) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &Journal{path: path, f: f, mark: readMark(path)}, nil
}

// Replay hands every journaled event to fn, in order, and returns how many.
// A torn last line (the process died mid-write) is dropped and cut off so
// that appends continue on a clean line; a bad line elsewhere is an error.
func (j *Journal) Replay(fn func(bridge.Event)) (int, error) {
	if _, err := j.f.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	r := bufio.NewReaderSize(j.f, 64<<10)
	var off int64
	n := 0
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > maxLine {
			return n, fmt.Errorf("journal %s: event %d too long", j.path, n+1)
		}
		if errors.Is(err, io.EOF) {
			if len(line) > 0 {
				// Torn write: keep what is whole.
				if terr := j.f.Truncate(off); terr != nil {
					return n, fmt.Errorf("journal: %w", terr)
				}
			}
			break
		}
		if err != nil {
			return n, fmt.Errorf("journal: %w", err)
		}
		var ev bridge.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return n, fmt.Errorf("journal %s: event %d: %w", j.path, n+1, err)
		}
		off += int64(len(line))
		n++
		fn(ev)
	}
	j.n = n
	return n, nil
}

// Append writes one event.
func (j *Journal) Append(ev bridge.Event) error {
	j.buf.Reset()
	enc := json.NewEncoder(&j.buf)
	if err := enc.Encode(ev); err != nil {
		return fmt.Errorf("journal: encode: %w", err)
	}
	if _, err := j.f.Write(j.buf.Bytes()); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.n++
	return nil
}

// Len is the number of events in the journal.
func (j *Journal) Len() int { return j.n }

// Reset empties the journal: nothing in it is needed any more (no call is
// open).
func (j *Journal) Reset() error {
	if j.n == 0 {
		return nil
	}
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.n = 0
	return nil
}

// Compact rewrites the journal keeping only the events keep approves (with
// keep free to trim a snapshot's channel list), through a temporary file
// renamed into place, so a crash mid-way leaves the old journal whole.
func (j *Journal) Compact(keep func(*bridge.Event) bool) error {
	tmp := j.path + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	w := bufio.NewWriterSize(out, 64<<10)
	enc := json.NewEncoder(w)
	kept := 0
	_, rerr := j.Replay(func(ev bridge.Event) {
		if err == nil && keep(&ev) {
			err = enc.Encode(ev)
			kept++
		}
	})
	if err == nil {
		err = rerr
	}
	if err == nil {
		err = w.Flush()
	}
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
	j.f, j.n = f, kept
	return nil
}

// Sync flushes the journal to disk (for machine crashes; process crashes
// need no sync).
func (j *Journal) Sync() error { return j.f.Sync() }

// Close closes the file.
func (j *Journal) Close() error {
	if j.markf != nil {
		j.markf.Close()
		j.markf = nil
	}
	return j.f.Close()
}
