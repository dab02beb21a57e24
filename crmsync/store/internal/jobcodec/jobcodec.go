// Package jobcodec is the one wire form of a queued job, shared by the
// stores so a job written by one version can be read by the next.
package jobcodec

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// Record is what a store keeps for one job.
type Record struct {
	Activity   bridge.Activity
	Attempt    int
	LastError  string
	EnqueuedAt time.Time
}

type wire struct {
	V int             `json:"v"`
	A bridge.Activity `json:"a"`
	N int             `json:"n,omitempty"`
	E string          `json:"e,omitempty"`
	T int64           `json:"t"` // enqueued, unix milliseconds
}

// MaxLastError bounds the error text kept with a job.
const MaxLastError = 512

// Encode writes r.
func Encode(r Record) ([]byte, error) {
	e := r.LastError
	if len(e) > MaxLastError {
		e = e[:MaxLastError]
	}
	return json.Marshal(wire{V: 1, A: r.Activity, N: r.Attempt, E: e, T: r.EnqueuedAt.UnixMilli()})
}

// Decode reads what Encode wrote. It rejects records without an activity id
// or of an unknown version rather than guess.
func Decode(b []byte) (Record, error) {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return Record{}, fmt.Errorf("job record: %w", err)
	}
	if w.V != 1 {
		return Record{}, fmt.Errorf("job record: unknown version %d", w.V)
	}
	if w.A.ID == "" {
		return Record{}, errors.New("job record: activity without id")
	}
	if w.N < 0 {
		return Record{}, fmt.Errorf("job record: negative attempt count %d", w.N)
	}
	return Record{Activity: w.A, Attempt: w.N, LastError: w.E, EnqueuedAt: time.UnixMilli(w.T).UTC()}, nil
}
