package ami

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
)

// BenchmarkLive is the live client's own session, the code the daemon
// runs: the connection (served from memory: banner, login, resync, then
// every recording's events, so no system calls), the framing, pre-filter
// and batch marks, the parse, Map, and the engine as out, all on the
// session's goroutine as in the daemon, the keepalive beside it. ns/msg is per AMI message,
// ns/event per event passed to the engine, events/batch how many a read
// brought; compare with ari's BenchmarkLive.
func BenchmarkLive(b *testing.B) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "testdata", "recordings", "*", "ami.txt"))
	if err != nil || len(paths) == 0 {
		b.Fatalf("no recordings: %v", err)
	}
	stream := []byte("Asterisk Call Manager/11.0.0\r\n" +
		"Response: Success\r\nActionID: callbridge-login\r\nMessage: Authentication accepted\r\n\r\n" +
		"Response: Success\r\nActionID: callbridge-sync\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n" +
		"Event: CoreShowChannelsComplete\r\nActionID: callbridge-sync\r\nEventList: Complete\r\nListItems: 0\r\n\r\n")
	head := bytes.Count(stream, []byte("\r\n\r\n"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		stream = append(stream, data...)
	}
	msgs := bytes.Count(stream, []byte("\r\n\r\n")) - head
	c, err := New(Config{Host: "pbx", Username: "u", Secret: "s", Logger: zerolog.Nop()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	events, batches := 0, 0
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		c.connect = func(context.Context) (net.Conn, error) { return &memConn{data: stream}, nil }
		e := bridge.New(bridge.Config{Source: "ami", Trunks: []string{"pstn"}})
		synced, err := c.session(context.Background(), func(ev bridge.Event) {
			events++
			e.Apply(ev)
		}, func() { batches++ })
		if !synced || err == nil {
			b.Fatalf("session: synced %v, %v", synced, err)
		}
		e.Flush(time.Time{})
	}
	n := float64(b.N)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/(n*float64(msgs)), "ns/msg")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	b.ReportMetric(float64(events)/float64(batches), "events/batch")
}

// memConn serves data as a socket would; what is written is dropped.
type memConn struct{ data []byte }

func (c *memConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 64<<10)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func (c *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return nil }
func (c *memConn) RemoteAddr() net.Addr             { return nil }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }
