package hep_test

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/sip/hep"
)

// hepPackets are a recording's HEP packets, and how many events each
// gives a Feeder fed them in order.
func hepPackets(t *testing.T, sc string) (pkts [][]byte, events []int) {
	t.Helper()
	for _, d := range recorded(t, sc) {
		pkts = append(pkts, d.Payload)
	}
	n := 0
	fd := hep.NewFeeder(hep.Config{}, func(bridge.Event) { n++ })
	for _, p := range pkts {
		n = 0
		if err := fd.Packet(p, "udp"); err != nil {
			t.Fatal(err)
		}
		events = append(events, n)
	}
	return pkts, events
}

// batches runs a collector (on a loopback port nothing sends to) whose
// queue holds pkts, as if its listeners had received them all, and logs
// each batch: its events, and the packets handled by its end.
type batches struct {
	c      *hep.Collector
	cancel context.CancelFunc
	errc   chan error
	readyc chan struct{}

	mu      sync.Mutex
	open    int
	sizes   []int
	packets []int
}

func startBatches(t *testing.T, max int, pkts [][]byte) *batches {
	t.Helper()
	c, err := hep.New(hep.Config{UDP: []string{"127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	c.SetBatchMax(max)
	for _, p := range pkts {
		c.Received(p)
	}
	b := &batches{c: c, errc: make(chan error, 1), readyc: make(chan struct{}, 1024)}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go func() {
		b.errc <- c.RunBatches(ctx, func(bridge.Event) {
			b.mu.Lock()
			b.open++
			b.mu.Unlock()
		}, func() {
			b.mu.Lock()
			b.sizes = append(b.sizes, b.open)
			b.packets = append(b.packets, int(testutil.ToFloat64(c.PacketsCounter("udp"))))
			b.open = 0
			b.mu.Unlock()
			b.readyc <- struct{}{}
		})
	}()
	return b
}

// await waits for the end of a batch; the limit only keeps a broken
// collector from hanging the test.
func (b *batches) await(t *testing.T) {
	t.Helper()
	select {
	case <-b.readyc:
	case <-time.After(10 * time.Second):
		t.Fatal("no end of batch, though nothing more was received")
	}
}

func (b *batches) stop(t *testing.T) ([]int, []int) {
	t.Helper()
	b.cancel()
	if err := <-b.errc; err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sizes, b.packets
}

func sum(ns []int) int {
	n := 0
	for _, v := range ns {
		n += v
	}
	return n
}

// What was received before the tracker got to it is one batch; a packet
// received alone after that is a batch of its own, ended at once.
func TestBatchIsWhatWasReceived(t *testing.T) {
	pkts, events := hepPackets(t, "inbound_answered")
	last := len(events) - 1 // the last packet that gives events
	for events[last] == 0 {
		last--
	}
	if sum(events[:last]) == 0 {
		t.Fatal("no events before the last packet")
	}
	b := startBatches(t, hep.BatchMax, pkts[:last])
	b.await(t)
	b.c.Received(pkts[last])
	b.await(t)
	sizes, packets := b.stop(t)
	if want := []int{sum(events[:last]), events[last]}; !reflect.DeepEqual(sizes, want) {
		t.Errorf("batches of %v events, want %v", sizes, want)
	}
	if want := []int{last, last + 1}; !reflect.DeepEqual(packets, want) {
		t.Errorf("batches ended after %v packets, want %v", packets, want)
	}
}

// A queue that does not empty still has its batches ended every BatchMax
// packets, so that no activity waits on a lull.
func TestBatchIsBounded(t *testing.T) {
	pkts, events := hepPackets(t, "inbound_answered")
	const max = 4
	b := startBatches(t, max, pkts)
	for {
		b.await(t)
		b.mu.Lock()
		n := sum(b.sizes)
		b.mu.Unlock()
		if n == sum(events) {
			break
		}
	}
	sizes, packets := b.stop(t)
	prev := 0
	for i, p := range packets {
		if p-prev > max {
			t.Errorf("batch %d spans packets %d to %d, more than %d", i, prev, p, max)
		}
		prev = p
	}
	// The batches are those of max packets that gave events, and the last.
	var want []int
	for i := 0; i < len(pkts); i += max {
		if n := sum(events[i:min(i+max, len(pkts))]); n > 0 {
			want = append(want, n)
		}
	}
	if !reflect.DeepEqual(sizes, want) {
		t.Errorf("batches of %v events, want %v", sizes, want)
	}
}
