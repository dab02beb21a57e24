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
			j.pend, j.recs = j.pend[:0], j.recs[:0]
			return n, fmt.Errorf("journal %s: event %d: %w", j.path, n+1, err)
		}
		data = data[i+1:]
		n++
		var r rec
		j.pend, r = appendRecord(j.pend, &ev)
		j.recs = append(j.recs, r)
		fn(ev)
	}
	if err := j.upgrade(); err != nil {
		return n, err
	}
	return n, nil
}

// upgrade writes the header and pend as the new journal.
func (j *Journal) upgrade() error {
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
		return fmt.Errorf("journal: rewrite %s in the binary format: %w", j.path, err)
	}
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.f.Close()
	j.f, j.size, j.header = f, int64(len(header)+len(j.pend)), true
	j.pend = j.pend[:0]
	return nil
}
