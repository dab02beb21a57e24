// Package jobcodec is the one wire form of a queued job, shared by the
// stores so a job written by one version can be read by the next.
package jobcodec

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
)

// Record is what a store keeps for one job.
type Record struct {
	Activity   bridge.Activity
	Open       bool          // push the activity open (crmsync.Updater)
	Task       *crmsync.Task // a task rather than a push
	Attempt    int
	LastError  string
	EnqueuedAt time.Time
}

// ID is the job's id: its task's, else its activity's.
func (r Record) ID() string {
	if r.Task != nil {
		return r.Task.ID
	}
	return r.Activity.ID
}

type wire struct {
	V int             `json:"v"`
	A bridge.Activity `json:"a"`
	O bool            `json:"o,omitempty"`
	K *crmsync.Task   `json:"k,omitempty"`
	N int             `json:"n,omitempty"`
	E string          `json:"e,omitempty"`
	T int64           `json:"t"` // enqueued, unix milliseconds
}

// MaxLastError bounds the error text kept with a job.
const MaxLastError = 512

// Encode writes r. Version 1 records (activities only) are what an
// activity push still writes, so a store shared with an older version
// stays readable by it as long as no task is queued.
func Encode(r Record) ([]byte, error) {
	e := r.LastError
	if len(e) > MaxLastError {
		e = e[:MaxLastError]
	}
	if r.Task == nil {
		if b, err := appendPlain(make([]byte, 0, 1024), &r, e); err == nil {
			return b, nil
		}
		// An activity without a JSON form (NaN seconds): encoding/json
		// says why.
	}
	return encodeJSON(r, e)
}

// encodeJSON is Encode through encoding/json: what every record was
// written with before appendPlain, still the reference it is tested
// against, and the writer of task records.
func encodeJSON(r Record, lastError string) ([]byte, error) {
	return json.Marshal(wire{V: 1, A: r.Activity, O: r.Open, K: r.Task, N: r.Attempt, E: lastError, T: r.EnqueuedAt.UnixMilli()})
}

// Decode reads what Encode wrote. It rejects records without an id (the
// activity's, or the task's) or of an unknown version rather than guess.
func Decode(b []byte) (Record, error) {
	if r, ok := fast(b); ok {
		return r, nil
	}
	return decodeJSON(b)
}

// decodeJSON is Decode for any input: what every record was read with
// before fast, and still the reference fast is tested against.
func decodeJSON(b []byte) (Record, error) {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return Record{}, fmt.Errorf("job record: %w", err)
	}
	if w.V != 1 {
		return Record{}, fmt.Errorf("job record: unknown version %d", w.V)
	}
	switch {
	case w.K != nil && w.K.ID == "":
		return Record{}, errors.New("job record: task without id")
	case w.K != nil && (w.K.Update == nil) == (w.K.Callback == nil):
		return Record{}, errors.New("job record: a task is an update or a callback")
	case w.K == nil && w.A.ID == "":
		return Record{}, errors.New("job record: activity without id")
	}
	if w.N < 0 {
		return Record{}, fmt.Errorf("job record: negative attempt count %d", w.N)
	}
	return Record{Activity: w.A, Open: w.O, Task: w.K, Attempt: w.N, LastError: w.E, EnqueuedAt: time.UnixMilli(w.T).UTC()}, nil
}
