package fakeari

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// ariTime is how ARI writes times: milliseconds and a numeric zone.
const ariTime = "2006-01-02T15:04:05.000-0700"

// maxLine bounds one recorded websocket message.
const maxLine = 4 << 20

// Recording is one ari.jsonl recording: the events websocket's messages, one
// per line, exactly as a real Asterisk sent them.
type Recording struct {
	// Name identifies the recording in errors.
	Name string
	// Lines are the messages. Lines that are not JSON are played as they
	// are, which is how tests feed a client malformed messages.
	Lines [][]byte
	// Start, when set, moves the recording in time so that its first event
	// happens at Start: every timestamp and creationtime moves by the same
	// amount. Zero plays the recording at its own times.
	Start time.Time
	// Tag, when set, is appended to every channel and bridge id (and to the
	// ids in lists of them), so that the same recording can be played more
	// than once without its calls being taken for one another.
	Tag string
	// CEL are the lines of the recording's cel.csv (LoadCEL), written to
	// Options.CEL in step with the events, moved and tagged like them.
	CEL [][]byte
}

// ReadRecording reads an ari.jsonl recording, skipping blank lines.
func ReadRecording(name string, r io.Reader) (Recording, error) {
	rec := Recording{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		rec.Lines = append(rec.Lines, bytes.Clone(line))
	}
	if err := sc.Err(); err != nil {
		return Recording{}, fmt.Errorf("fakeari: read %s: %w", name, err)
	}
	return rec, nil
}

// LoadRecording reads the ari.jsonl file at path.
func LoadRecording(path string) (Recording, error) {
	f, err := os.Open(path)
	if err != nil {
		return Recording{}, fmt.Errorf("fakeari: %w", err)
	}
	defer f.Close()
	return ReadRecording(path, f)
}

// Chain sets the Start of each recording so that they play as a sequence of
// calls: the first at start, each next one gap after the previous one's last
// event. Recordings without a single timed event keep their own times.
func Chain(start time.Time, gap time.Duration, recs ...Recording) []Recording {
	out := make([]Recording, len(recs))
	at := start
	for i, r := range recs {
		first, last, ok := span(r.Lines)
		r.Start = time.Time{}
		if ok {
			r.Start = at
			at = at.Add(last.Sub(first) + gap)
		}
		out[i] = r
	}
	return out
}

// Messages returns the recording's lines as Play sends them: moved to Start
// and tagged with Tag. A test computes what a client should make of the
// play from these.
func (r Recording) Messages() [][]byte {
	shift := r.shift()
	out := make([][]byte, len(r.Lines))
	for i, l := range r.Lines {
		out[i] = rewrite(l, shift, r.Tag)
	}
	return out
}

// shift is how far Start moves the recording's times.
func (r Recording) shift() time.Duration {
	if first, _, ok := span(r.Lines); ok && !r.Start.IsZero() {
		return r.Start.Sub(first)
	}
	return 0
}

// span returns the first and last event timestamps of lines.
func span(lines [][]byte) (first, last time.Time, ok bool) {
	for _, l := range lines {
		t, tok := timestamp(l)
		if !tok {
			continue
		}
		if !ok {
			first, ok = t, true
		}
		last = t
	}
	return first, last, ok
}

// timestamp reads a message's own timestamp.
func timestamp(line []byte) (time.Time, bool) {
	var v struct {
		Timestamp string `json:"timestamp"`
	}
	if json.Unmarshal(line, &v) != nil || v.Timestamp == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(ariTime, v.Timestamp)
	return t, err == nil
}

// timeKeys are the fields that hold times and move with Recording.Start.
var timeKeys = map[string]bool{"timestamp": true, "creationtime": true}

// idListKeys are the fields that hold lists of channel or bridge ids.
var idListKeys = map[string]bool{"channels": true, "channel_ids": true}

// idKeys are the fields, besides an object's own "id", that hold one id.
var idKeys = map[string]bool{"destination_bridge": true}

// rewrite applies a time shift and an id tag to one message. Messages that
// are not JSON objects are returned untouched.
func rewrite(line []byte, shift time.Duration, tag string) []byte {
	if shift == 0 && tag == "" {
		return line
	}
	var v map[string]any
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return line
	}
	walk(v, shift, tag)
	b, err := json.Marshal(v)
	if err != nil {
		return line
	}
	return b
}

func walk(m map[string]any, shift time.Duration, tag string) {
	for k, val := range m {
		switch x := val.(type) {
		case string:
			switch {
			case timeKeys[k] && shift != 0:
				if t, err := time.Parse(ariTime, x); err == nil {
					m[k] = t.Add(shift).Format(ariTime)
				}
			case (k == "id" || idKeys[k]) && tag != "" && x != "":
				m[k] = x + tag
			}
		case []any:
			for i, e := range x {
				switch y := e.(type) {
				case string:
					if idListKeys[k] && tag != "" {
						x[i] = y + tag
					}
				case map[string]any:
					walk(y, shift, tag)
				}
			}
		case map[string]any:
			walk(x, shift, tag)
		}
	}
}
