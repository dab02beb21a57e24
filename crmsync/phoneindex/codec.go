package phoneindex

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrCorrupt marks a persisted snapshot that cannot be read.
var ErrCorrupt = errors.New("snapshot unreadable")

// maxSnapshot bounds a decompressed snapshot (about 10 million numbers), so
// a corrupt or hostile file cannot exhaust memory.
const maxSnapshot = 2 << 30

// decodeSnapshot reads a gzipped JSON snapshot. Damage gives an error, never
// a panic: the integration then starts empty and syncs.
func decodeSnapshot(r io.Reader) (*Snapshot, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	defer zr.Close()
	var s Snapshot
	dec := json.NewDecoder(io.LimitReader(zr, maxSnapshot))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return &s, nil
}
