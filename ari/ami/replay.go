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
	m, err := parseFast(pkt)
	if err != nil {
		return bridge.Event{}, false, err
	}
	return mapHeaders(m, received)
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
// time of the event before it, so order is kept. A CoreShowChannels list in
// the stream (a session that resynced after connecting, as the live client
// does) becomes one Snapshot event at its CoreShowChannelsComplete, the
// events that arrived meanwhile after it, as the live client delivers them;
// a recording keeps no receipt times, so the list is read against the
// newest Timestamp any message before it carried (the PBX's clock). The
// error is for failures to read r, never for bad content.
func ReadRecording(r io.Reader, fn func(bridge.Event)) (Stats, error) {
	var st Stats
	rd := NewReader(r)
	var last, clock time.Time // the newest event delivered; the newest Timestamp seen
	var list *resync
	deliver := func(ev bridge.Event) {
		st.Mapped++
		last = ev.Time
		fn(ev)
	}
	for {
		pkt, err := rd.ReadPacket()
		if err != nil {
			if errors.Is(err, ErrMalformed) {
				st.Messages++
				st.problem(st.Messages, err)
				continue
			}
			if errors.Is(err, io.EOF) {
				if list != nil {
					// Cut off inside a list: no snapshot to go by, but
					// nothing that arrived meanwhile is lost.
					for _, ev := range list.held {
						deliver(ev)
					}
				}
				return st, nil
			}
			return st, fmt.Errorf("ami: read recording after message %d: %w", st.Messages, err)
		}
		st.Messages++
		if t, ok := rawTimestamp(pkt); ok {
			clock = t
		}
		if name := eventName(pkt); string(name) == evCoreShowChannel || string(name) == evCoreShowChannelsComplete {
			m, err := parse(pkt)
			if err != nil {
				st.problem(st.Messages, err)
				continue
			}
			if string(name) == evCoreShowChannel {
				st.Skipped++ // an entry; the list is one event, at its end
				if list == nil {
					list = &resync{}
				}
				list.chans = append(list.chans, snapshotChannel(m.Headers(), clock))
				continue
			}
			if list == nil {
				list = &resync{}
			}
			deliver(snapshotEvent(list.chans, last, clock)) // counted as mapped
			for _, ev := range list.held {
				deliver(ev)
			}
			list = nil
			continue
		}
		ev, ok, err := Decode(pkt, last)
		switch {
		case err != nil:
			st.problem(st.Messages, err)
		case !ok:
			st.Skipped++
		case list != nil:
			list.held = append(list.held, ev)
		default:
			deliver(ev)
		}
	}
}

// resync is a CoreShowChannels list being read: its entries so far and the
// events that arrived in between.
type resync struct {
	chans []bridge.Channel
	held  []bridge.Event
}

var timestampHeader = []byte("\r\nTimestamp: ")

// rawTimestamp reads a message's Timestamp header without parsing the
// message: the events a replay skips still tell the PBX's time.
func rawTimestamp(pkt []byte) (time.Time, bool) {
	i := bytes.Index(pkt, timestampHeader)
	if i < 0 {
		return time.Time{}, false
	}
	v := pkt[i+len(timestampHeader):]
	if j := bytes.IndexByte(v, '\r'); j >= 0 {
		v = v[:j]
	}
	t, err := parseTimestamp(string(v))
	return t, err == nil
}
