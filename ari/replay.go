package ari

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/callbridge/callbridge/bridge"
)

// Stats counts what a recording held.
type Stats struct {
	Lines     int // non-empty lines read
	Mapped    int // events passed on to the engine
	Skipped   int // well-formed events the engine has no use for
	Malformed int // lines that were not a well-formed ARI event
	// Problems describes the first few malformed lines, for the log.
	Problems []string
}

const maxProblems = 10

// maxLine bounds one websocket message in a recording; ARI events are a few
// KiB, so anything near this is not an ARI event.
const maxLine = 4 << 20

// ReadRecording feeds every event of a recording in the ari.jsonl format
// (one websocket message per line, as received) to fn, in order, through
// the same Decoder as the live source. Malformed lines are counted in Stats
// and skipped, the first few described in Stats.Problems. The error is for
// failures to read r, never for bad content.
func ReadRecording(r io.Reader, fn func(bridge.Event)) (Stats, error) {
	var st Stats
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	n := 0
	var dec Decoder
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		st.Lines++
		ev, ok, err := dec.Decode(line)
		switch {
		case err != nil:
			st.Malformed++
			if len(st.Problems) < maxProblems {
				st.Problems = append(st.Problems, fmt.Sprintf("line %d: %v", n, err))
			}
		case ok:
			st.Mapped++
			fn(ev)
		default:
			st.Skipped++
		}
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("ari: read recording at line %d: %w", n+1, err)
	}
	return st, nil
}
