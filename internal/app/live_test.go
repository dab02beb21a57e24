package app

import (
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// A listener that falls behind is dropped (its channel closed), never
// handed a stream with holes; the others get every event.
func TestHubDropsSlowListener(t *testing.T) {
	h := &hub{}
	slow, cancelSlow := h.Subscribe("")
	defer cancelSlow()
	fast, cancelFast := h.Subscribe("101")
	defer cancelFast()
	other, cancelOther := h.Subscribe("102")
	defer cancelOther()
	t0 := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	got := 0
	for i := range liveBuffer + 1 {
		h.publish("ari", bridge.Transition{User: "101", CallID: "c", State: bridge.Ringing, Time: t0.Add(time.Duration(i) * time.Second)})
		<-fast // the fast one keeps up
		got++
	}
	if got != liveBuffer+1 {
		t.Fatalf("fast listener got %d", got)
	}
	n := 0
	for range slow {
		n++
	}
	if n != liveBuffer {
		t.Errorf("slow listener got %d events before being dropped, want %d", n, liveBuffer)
	}
	if h.dropped.Load() != 1 || h.listeners() != 2 {
		t.Errorf("dropped %d, listeners %d; want 1, 2", h.dropped.Load(), h.listeners())
	}
	select {
	case ev, ok := <-other:
		t.Errorf("user 102's listener got %+v %v", ev, ok)
	default:
	}
}
