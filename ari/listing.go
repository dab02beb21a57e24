package ari

import (
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// ParseSnapshot builds the Snapshot event from the bodies of GET /channels
// and GET /bridges as the live source does after connecting (last: the
// newest event before the gap, zero on a first connect): for replaying a
// recorded listing with the events that followed it.
func ParseSnapshot(channels, bridges []byte, last time.Time) (bridge.Event, error) {
	return parseSnapshot(channels, bridges, last)
}
