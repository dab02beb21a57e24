package ami

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/staskobzar/goami2"

	"github.com/callbridge/callbridge/bridge"
)

// Stats counts what a recording (or a live connection) held.
type Stats struct {
	Messages  int // messages framed, the banner not counted
	Mapped    int // events passed on to the engine
	Skipped   int // well-formed messages the engine has no use for
	Malformed int // messages that were cut off, too long, or did not parse or map
	// Problems describes the first few malformed messages, for the log.
	Problems []string
}

const maxProblems = 10

var crlf2 = []byte("\r\n\r\n")

func (s *Stats) problem(n int, err error) {
	s.Malformed++
	if len(s.Problems) < maxProblems {
		s.Problems = append(s.Problems, fmt.Sprintf("message %d: %v", n, err))
	}
}

// Decode parses one framed message (as returned by Reader.ReadPacket) and
// maps it. Messages wanted rejects are skipped without being parsed.
func Decode(pkt []byte, received time.Time) (ev bridge.Event, ok bool, err error) {
	if !wanted(pkt) {
		return bridge.Event{}, false, nil
	}
	m, err := parse(pkt)
	if err != nil {
		return bridge.Event{}, false, err
	}
	return Map(m, received)
}

// parse wraps goami2.Parse. Its generated scanner reads past the end of
// input that does not end in a line break (goami2 v1.7.7 panics on "0");
// Reader always ends a message with CRLF CRLF, other input is refused here,
// and the recover is the last line of defence should another such path
// exist. Its errors quote the whole rest of the input, which may be long,
// so only the first bytes are kept.
func parse(pkt []byte) (m *goami2.Message, err error) {
	if !bytes.HasSuffix(pkt, crlf2) {
		return nil, fmt.Errorf("%w: not ended by a blank line", ErrMalformed)
	}
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("%w: parser failed: %v", ErrMalformed, r)
		}
	}()
	m, err = goami2.Parse(string(pkt))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, clip(err.Error(), 120))
	}
	return m, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ReadRecording feeds every event of a recorded AMI stream (the ami.txt
// format: banner line, Login response, events; CRLF as on the wire) to fn,
// in order, through the same framing and mapping as the live client.
// Malformed messages are counted in Stats and skipped, the first few
// described in Stats.Problems. An event without a Timestamp header takes the
// time of the event before it, so order is kept. The error is for failures
// to read r, never for bad content.
func ReadRecording(r io.Reader, fn func(bridge.Event)) (Stats, error) {
	var st Stats
	rd := NewReader(r)
	var last time.Time
	for {
		pkt, err := rd.ReadPacket()
		if err != nil {
			if errors.Is(err, ErrMalformed) {
				st.Messages++
				st.problem(st.Messages, err)
				continue
			}
			if errors.Is(err, io.EOF) {
				return st, nil
			}
			return st, fmt.Errorf("ami: read recording after message %d: %w", st.Messages, err)
		}
		st.Messages++
		ev, ok, err := Decode(pkt, last)
		switch {
		case err != nil:
			st.problem(st.Messages, err)
		case ok:
			st.Mapped++
			last = ev.Time
			fn(ev)
		default:
			st.Skipped++
		}
	}
}
