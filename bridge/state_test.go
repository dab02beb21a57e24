package bridge

import (
	"testing"
	"unsafe"
)

// The engine holds a channel for every leg of every call in progress, a
// user leg for every user in one and a call for each, and issue 14 asks for
// at most 2 KB of memory per open call, the whole daemon's
// (docs/performance.md, "Open calls: memory and journal"). Each limit is
// the Go runtime's size class the struct is allocated in: a field more
// takes it to the next class, 16 or 32 bytes more per leg. Before adding
// one, see whether it can go in a part only the legs that need it have
// (channelExtra, legExtra, callExtra).
func TestStateIsSmall(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	for _, c := range []struct {
		what      string
		size, max uintptr
	}{
		{"channel", unsafe.Sizeof(channel{}), 224},
		{"userLeg", unsafe.Sizeof(userLeg{}), 160},
		{"call", unsafe.Sizeof(call{}), 128},
		{"stamp", unsafe.Sizeof(stamp{}), 12},
	} {
		if c.size > c.max {
			t.Errorf("%s is %d bytes, want at most %d", c.what, c.size, c.max)
		}
	}
}
