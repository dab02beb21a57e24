package journal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/callbridge/callbridge/bridge"
)

// replayJSON replays a journal written before the binary format: one JSON
// object per line, a torn last line (no newline) dropped. The events are
// then written in the binary format through a temporary file renamed into
// place, so a crash mid-way leaves the JSON journal to replay again.
func (j *Journal) replayJSON(data []byte, fn func(bridge.Event)) (int, error) {
	n := 0
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break // torn: dropped
		}
		var ev bridge.Event
		if err := json.Unmarshal(data[:i], &ev); err != nil {
			j.dropPend()
			return n, fmt.Errorf("journal %s: event %d: %w", j.path, n+1, err)
		}
		data = data[i+1:]
		n++
		j.keep(&ev)
		fn(ev)
	}
	if err := j.upgrade(); err != nil {
		return n, err
	}
	return n, nil
}

// replayV1 replays a journal in version 1 of the binary format, a torn
// last record dropped, and rewrites it in the current format like
// replayJSON.
func (j *Journal) replayV1(data []byte, fn func(bridge.Event)) (int, error) {
	n := 0
	for off := len(headerV1); off < len(data); {
		payload, size, err := frameAt(data[off:])
		if err != nil && torn(data, off, err) {
			break
		}
		var ev bridge.Event
		if err == nil {
			err = decodeV1(payload, &ev)
		}
		if err != nil {
			j.dropPend()
			return n, fmt.Errorf("journal %s: event %d: %w", j.path, n+1, err)
		}
		off += size
		n++
		j.keep(&ev)
		fn(ev)
	}
	if err := j.upgrade(); err != nil {
		return n, err
	}
	return n, nil
}

// keep encodes a replayed event into pend for upgrade.
func (j *Journal) keep(ev *bridge.Event) {
	j.openBatch()
	j.pend, j.scratch = j.codec.encode(j.pend, ev, j.scratch[:0])
	j.added()
}

// dropPend forgets the events appended since the last Flush, and what the
// codec knows (it may name their descriptions).
func (j *Journal) dropPend() {
	j.recs.cut(j.recs.len() - j.npend)
	j.pend, j.npend, j.ndesc = j.pend[:0], 0, j.recs.descs(0)
	j.codec.reset()
}

// upgrade writes the header and pend as the new journal. Until it has, the
// old journal stays, to replay again.
func (j *Journal) upgrade() error {
	if len(j.pend) > 0 {
		seal(j.pend[j.open:])
	}
	tmp := j.path + ".tmp"
	err := os.WriteFile(tmp, append(header[:], j.pend...), 0o600)
	if err == nil {
		var f *os.File
		if f, err = os.OpenFile(tmp, os.O_RDWR, 0); err == nil {
			err = f.Sync()
			f.Close()
		}
	}
	if err == nil {
		err = os.Rename(tmp, j.path)
	}
	if err != nil {
		os.Remove(tmp)
		j.dropPend()
		return fmt.Errorf("journal: rewrite %s in the current format: %w", j.path, err)
	}
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.f.Close()
	j.f, j.size, j.header = f, int64(len(header)+len(j.pend)), true
	j.pend, j.npend = j.pend[:0], 0
	return nil
}
