package fakeari

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// The fake also keeps Asterisk's Channel Event Logging: with Options.CEL
// set, every recording's CEL rows (Recording.CEL, the lines of its cel.csv)
// are written there as playback reaches their time, moved and tagged like
// the recording's events, whether or not any client is connected, as
// cel_custom appends to its Master.csv. A client that lost events can find
// the calls again there, as callbridge's CEL backfill does.

// The columns of the lab's cel_custom.conf layout (ari/cel.LabFields) that
// playback rewrites.
const (
	celFields   = 20
	celTime     = 1
	celUniqueID = 14
	celLinkedID = 15
	celExtra    = 19
)

// LoadCEL reads the lines of a cel.csv (the lab's cel_custom layout) for
// Recording.CEL, skipping blank lines.
func LoadCEL(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fakeari: %w", err)
	}
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if l = bytes.TrimSpace(l); len(l) > 0 {
			out = append(out, l)
		}
	}
	return out, nil
}

// celRow is one CEL line ready to write, with its time.
type celRow struct {
	at   time.Time
	line []byte
}

// CELRows returns the recording's CEL lines as playback writes them: moved
// to Start and tagged with Tag like its events. Lines that are not rows
// of the lab's layout are returned untouched and written at once.
func (r Recording) CELRows() [][]byte {
	rows := r.celRows()
	out := make([][]byte, len(rows))
	for i, row := range rows {
		out[i] = row.line
	}
	return out
}

func (r Recording) celRows() []celRow {
	shift := r.shift()
	out := make([]celRow, 0, len(r.CEL))
	for _, l := range r.CEL {
		at, line, err := rewriteCEL(l, shift, r.Tag)
		if err != nil {
			out = append(out, celRow{line: append(bytes.TrimRight(l, "\r\n"), '\n')})
			continue
		}
		out = append(out, celRow{at: at, line: line})
	}
	return out
}

// rewriteCEL moves one row by shift and tags its channel and bridge ids.
func rewriteCEL(line []byte, shift time.Duration, tag string) (time.Time, []byte, error) {
	rd := csv.NewReader(bytes.NewReader(line))
	rd.FieldsPerRecord = celFields
	f, err := rd.Read()
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("fakeari: a CEL row not in the lab's layout: %w", err)
	}
	at, err := parseEpoch(f[celTime])
	if err != nil {
		return time.Time{}, nil, err
	}
	at = at.Add(shift)
	f[celTime] = fmt.Sprintf("%d.%06d", at.Unix(), at.Nanosecond()/1000)
	if tag != "" {
		for _, i := range []int{celUniqueID, celLinkedID} {
			if f[i] != "" {
				f[i] += tag
			}
		}
		f[celExtra] = tagExtra(f[celExtra], tag)
	}
	var b bytes.Buffer
	for i, v := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		if i == celUniqueID || i == celLinkedID {
			b.WriteString(v) // (noquote)
			continue
		}
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(v, `"`, `""`))
		b.WriteByte('"')
	}
	b.WriteByte('\n')
	return at, b.Bytes(), nil
}

// parseEpoch reads cel_custom's default time: epoch seconds with
// microseconds.
func parseEpoch(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("fakeari: CEL time %q: not epoch seconds", s)
	}
	frac = (frac + "000000")[:6]
	us, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("fakeari: CEL time %q: not epoch seconds", s)
	}
	return time.Unix(n, us*1000).UTC(), nil
}

// tagExtra tags the channel and bridge ids in an eventextra object: the
// keys ending in _id or uniqueid (bridge_id, channel2_uniqueid,
// transferee_channel_uniqueid, …). Anything else is left as it is.
func tagExtra(s, tag string) string {
	if !strings.HasPrefix(strings.TrimSpace(s), "{") {
		return s
	}
	var v map[string]any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return s
	}
	changed := false
	for k, val := range v {
		str, ok := val.(string)
		if !ok || str == "" || str == "N/A" || !(strings.HasSuffix(k, "_id") || strings.HasSuffix(k, "uniqueid")) {
			continue
		}
		v[k] = str + tag
		changed = true
	}
	if !changed {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return s
	}
	return string(b)
}
