package cel

import (
	"io"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// ReadRecording feeds every event of a CEL CSV in the layout of the lab's
// cel_custom.conf (LabFields: the recordings' cel.csv) to fn, in order,
// through the same mapping as the database readers. Event times written
// as dates are read in loc (nil: UTC); the default epoch times need none.
// Malformed rows are counted in Stats and skipped, the first few described
// in Stats.Problems. The error is for failures to read r, never for bad
// content.
func ReadRecording(r io.Reader, loc *time.Location, fn func(bridge.Event)) (Stats, error) {
	l, err := NewLayout(LabFields, loc)
	if err != nil {
		return Stats{}, err
	}
	return l.Replay(r, fn)
}

// Replay reads a CEL CSV in this layout and feeds the events its rows give
// to fn.
func (l *Layout) Replay(r io.Reader, fn func(bridge.Event)) (Stats, error) {
	m := NewMapper(fn)
	st, err := l.ReadCSV(r, m.Feed)
	m.Flush()
	return merge(st, m.Stats()), err
}

// merge adds what the mapper counted to what the reader counted: the
// reader's Rows are every line, the mapper's only those that parsed.
func merge(read, mapped Stats) Stats {
	mapped.Rows = 0
	read.add(mapped)
	return read
}
