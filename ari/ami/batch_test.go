package ami

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
)

// chunkConn is a connection each Read of which returns one chunk the test
// hands it, whole, then waits for the next: a PBX whose every write is
// read at once. What is written to it is dropped.
type chunkConn struct {
	t      *testing.T
	chunks chan []byte
	closed chan struct{}
	once   sync.Once
}

func newChunkConn(t *testing.T) *chunkConn {
	return &chunkConn{t: t, chunks: make(chan []byte), closed: make(chan struct{})}
}

func (c *chunkConn) Read(p []byte) (int, error) {
	select {
	case b := <-c.chunks:
		if len(b) > len(p) {
			// Then it would take two reads, which is not what the test says.
			c.t.Errorf("chunk of %d bytes does not fit a read of %d", len(b), len(p))
		}
		return copy(p, b), nil
	case <-c.closed:
		return 0, net.ErrClosed
	}
}

// send hands the next read its bytes.
func (c *chunkConn) send(b []byte) {
	select {
	case c.chunks <- b:
	case <-c.closed:
		c.t.Error("connection closed before the test was done")
	}
}

func (c *chunkConn) Close() error                     { c.once.Do(func() { close(c.closed) }); return nil }
func (c *chunkConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *chunkConn) LocalAddr() net.Addr              { return nil }
func (c *chunkConn) RemoteAddr() net.Addr             { return nil }
func (c *chunkConn) SetDeadline(time.Time) error      { return nil }
func (c *chunkConn) SetReadDeadline(time.Time) error  { return nil }
func (c *chunkConn) SetWriteDeadline(time.Time) error { return nil }

// What an Asterisk says before its events: the banner and the login's
// answer (one read), then the clock and the empty channel list (another).
var (
	loginChunk = []byte("Asterisk Call Manager/11.0.0\r\n" +
		"Response: Success\r\nActionID: callbridge-login\r\nMessage: Authentication accepted\r\n\r\n")
	syncChunk = []byte("Response: Success\r\nActionID: callbridge-sync-ping\r\nPing: Pong\r\nTimestamp: 1700000000.000000\r\n\r\n" +
		"Response: Success\r\nActionID: callbridge-sync\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n" +
		"Event: CoreShowChannelsComplete\r\nActionID: callbridge-sync\r\nEventList: Complete\r\nListItems: 0\r\n\r\n")
)

// batchRun is a client's RunBatches over one chunkConn, what it handed on
// logged batch by batch.
type batchRun struct {
	conn   *chunkConn
	cancel context.CancelFunc
	errc   chan error
	readyc chan struct{}

	mu     sync.Mutex
	events []bridge.Event
	sizes  []int // events per batch, in the order the batches ended
	open   int   // events of the batch not yet ended
}

func startBatches(t *testing.T) *batchRun {
	t.Helper()
	c, err := New(Config{Host: "pbx", Username: "u", Secret: "s", Logger: zerolog.Nop()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &batchRun{conn: newChunkConn(t), errc: make(chan error, 1), readyc: make(chan struct{}, 1024)}
	first := true
	c.connect = func(context.Context) (net.Conn, error) {
		if !first {
			return nil, errors.New("one connection only")
		}
		first = false
		return r.conn, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		r.errc <- c.RunBatches(ctx, func(ev bridge.Event) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.events = append(r.events, ev)
			r.open++
		}, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.sizes = append(r.sizes, r.open)
			r.open = 0
			r.readyc <- struct{}{}
		})
	}()
	r.conn.send(loginChunk)
	r.conn.send(syncChunk)
	r.await(t)
	return r
}

// await waits for the end of a batch. The client ends one when it has
// nothing more to read, which here is at once; the limit only keeps
// a broken client from hanging the test.
func (r *batchRun) await(t *testing.T) {
	t.Helper()
	select {
	case <-r.readyc:
	case <-time.After(10 * time.Second):
		t.Fatal("no end of batch after a read, though nothing more came")
	}
}

func (r *batchRun) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := <-r.errc; err != nil {
		t.Errorf("RunBatches returned %v after cancel, want nil", err)
	}
}

// eventPackets are a recording's events, framed, as Asterisk would send
// them after a resync (its responses and lists left out), without those
// the client drops unparsed: a read of only those would be no
// batch at all, and the test wants to know how many reads there are.
func eventPackets(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rd := NewReader(bytes.NewReader(data))
	var pkts [][]byte
	for {
		pkt, err := rd.ReadPacket()
		if errors.Is(err, io.EOF) {
			return pkts
		}
		if err != nil {
			t.Fatal(err)
		}
		name := string(eventName(pkt))
		if name == "" || name == evCoreShowChannel || name == evCoreShowChannelsComplete || !wanted(pkt) {
			continue
		}
		pkts = append(pkts, bytes.Clone(pkt))
	}
}

// Each read's events are one batch, ended as soon as the client has
// nothing more to read, and the client hands on the same events as a
// replay of the stream. Reads bring 1, 2, 3, 5 or 8 events (fewer when
// the messages that map to none would make the read longer than 8 KB), and
// every other read ends in the middle of the next message, whose event is
// then the next read's.
func TestBatchPerRead(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "testdata", "recordings", "*", "ami.txt"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no recordings: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			pkts := eventPackets(t, path)
			// Group the packets into reads of n mapped events each.
			var groups [][][]byte
			var wantSizes []int
			var cur [][]byte
			mapped, step, size := 0, 0, 0
			for _, pkt := range pkts {
				cur = append(cur, pkt)
				size += len(pkt)
				if _, ok, _ := Decode(pkt, time.Time{}); ok {
					mapped++
				}
				if n := []int{1, 2, 3, 5, 8}[step%5]; mapped == n || size > 8<<10 {
					groups, wantSizes = append(groups, cur), append(wantSizes, mapped)
					cur, mapped, size = nil, 0, 0
					step++
				}
			}
			if len(groups) < 3 {
				t.Fatalf("only %d reads' worth of events", len(groups))
			}
			if len(cur) > 0 { // the tail maps to fewer events: with the last read
				groups[len(groups)-1] = append(groups[len(groups)-1], cur...)
				wantSizes[len(wantSizes)-1] += mapped
			}
			var stream bytes.Buffer
			chunks := make([][]byte, len(groups))
			for i, g := range groups {
				for _, pkt := range g {
					chunks[i] = append(chunks[i], pkt...)
				}
				stream.Write(chunks[i])
			}
			for i := 0; i+1 < len(chunks); i += 2 {
				half := len(groups[i+1][0]) / 2
				chunks[i] = append(chunks[i], chunks[i+1][:half]...)
				chunks[i+1] = chunks[i+1][half:]
			}
			var want []bridge.Event
			if _, err := ReadRecording(&stream, func(ev bridge.Event) { want = append(want, ev) }); err != nil {
				t.Fatal(err)
			}

			r := startBatches(t)
			for _, ch := range chunks {
				r.conn.send(ch)
				r.await(t)
			}
			r.stop(t)

			r.mu.Lock()
			defer r.mu.Unlock()
			// The first batch is the resync's snapshot; the stop ends an
			// empty one.
			if want := append(append([]int{1}, wantSizes...), 0); !reflect.DeepEqual(r.sizes, want) {
				t.Errorf("batches of %v events, want %v", r.sizes, want)
			}
			if got := r.events[1:]; !reflect.DeepEqual(got, want) {
				t.Errorf("%d events handed on, differing from the replay's %d", len(got), len(want))
			}
		})
	}
}

// A lone event is a batch at once: the client does not hold it back to
// see whether more come.
func TestLoneEventIsABatch(t *testing.T) {
	r := startBatches(t)
	r.conn.send([]byte("Event: Hangup\r\nChannel: PJSIP/101-00000001\r\nUniqueid: 1700000000.1\r\nLinkedid: 1700000000.1\r\n" +
		"Cause: 16\r\nCause-txt: Normal Clearing\r\nTimestamp: 1700000001.000000\r\n\r\n"))
	r.await(t)
	r.mu.Lock()
	sizes, last := append([]int(nil), r.sizes...), r.events[len(r.events)-1]
	r.mu.Unlock()
	r.stop(t)
	if !reflect.DeepEqual(sizes, []int{1, 1}) || last.Kind != bridge.ChannelDestroyed {
		t.Errorf("batches %v ending with a %v, want the snapshot's, then the hang-up's alone", sizes, last.Kind)
	}
}
