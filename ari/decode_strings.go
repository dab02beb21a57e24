package ari

import (
	"hash/maphash"

	"github.com/callbridge/callbridge/bridge"
)

// The strings the Decoder keeps: recurring ones are handed out again
// rather than allocated per event.

// stringCache hands out the strings of recent events again: a call's
// channel ids, names, numbers and contexts recur in every one of its
// events, so most strings an event keeps cost a hash rather than an
// allocation. It is direct-mapped and bounded; a miss replaces the slot.
type stringCache struct {
	seed  maphash.Seed
	slots [1024]string
}

func (c *stringCache) get(v []byte) string {
	if s, ok := constant(v); ok {
		return s
	}
	if len(v) > 64 {
		return string(v)
	}
	if c.seed == (maphash.Seed{}) {
		c.seed = maphash.MakeSeed()
	}
	s := &c.slots[maphash.Bytes(c.seed, v)%uint64(len(c.slots))]
	if *s != string(v) {
		*s = string(v)
	}
	return *s
}

// constant returns v as a string without allocating for the values that
// recur in nearly every event (channel states, dial outcomes, bridge
// classes, the variables the engine reads).
func constant(v []byte) (string, bool) {
	switch string(v) {
	case "":
		return "", true
	case "Up":
		return "Up", true
	case "Down":
		return "Down", true
	case "Ring":
		return "Ring", true
	case "Ringing":
		return "Ringing", true
	case "Busy":
		return "Busy", true
	case "basic":
		return "basic", true
	case "stasis":
		return "stasis", true
	case "ANSWER":
		return "ANSWER", true
	case "BUSY":
		return "BUSY", true
	case "NOANSWER":
		return "NOANSWER", true
	case "CANCEL":
		return "CANCEL", true
	case "CHANUNAVAIL":
		return "CHANUNAVAIL", true
	case "CONGESTION":
		return "CONGESTION", true
	case "Success":
		return "Success", true
	case "DIALSTATUS":
		return "DIALSTATUS", true
	case bridge.PrivacyVar:
		return bridge.PrivacyVar, true
	}
	return "", false
}
