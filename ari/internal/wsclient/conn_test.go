package wsclient

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// frame encodes one server frame (unmasked).
func frame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		out = append(out, byte(n))
	case n <= 0xffff:
		out = append(out, 126, byte(n>>8), byte(n))
	default:
		out = append(out, 127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	return append(out, payload...)
}

func text(s string) []byte { return frame(true, opText, []byte(s)) }

// chunkConn serves data in reads of the given sizes (cycled; 0 means all
// at once) and keeps what is written.
type chunkConn struct {
	data    []byte
	sizes   []int
	k       int
	written bytes.Buffer
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := len(c.data)
	if len(c.sizes) > 0 {
		if s := c.sizes[c.k%len(c.sizes)]; s > 0 {
			n = min(n, s)
		}
		c.k++
	}
	n = copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func (c *chunkConn) Write(p []byte) (int, error)      { return c.written.Write(p) }
func (c *chunkConn) Close() error                     { return nil }
func (c *chunkConn) LocalAddr() net.Addr              { return nil }
func (c *chunkConn) RemoteAddr() net.Addr             { return nil }
func (c *chunkConn) SetDeadline(time.Time) error      { return nil }
func (c *chunkConn) SetReadDeadline(time.Time) error  { return nil }
func (c *chunkConn) SetWriteDeadline(time.Time) error { return nil }

// readAll calls Next until a sticky error, recording messages and
// non-sticky errors.
func readAll(c *Conn) (msgs []string, err error) {
	for {
		m, err := c.Next()
		switch {
		case errors.Is(err, ErrTooLarge):
			msgs = append(msgs, "<too large>")
		case err != nil:
			return msgs, err
		default:
			msgs = append(msgs, string(m))
		}
	}
}

// clientFrames decodes the masked frames the client wrote.
func clientFrames(t *testing.T, b []byte) (out []string) {
	t.Helper()
	for len(b) > 0 {
		if len(b) < 6 || b[1]&0x80 == 0 {
			t.Fatalf("client frame not masked: % x", b)
		}
		n := int(b[1] & 0x7f)
		key, payload := b[2:6], append([]byte(nil), b[6:6+n]...)
		for i := range payload {
			payload[i] ^= key[i%4]
		}
		out = append(out, fmt.Sprintf("%x:%s", b[0], payload))
		b = b[6+n:]
	}
	return out
}

func TestNext(t *testing.T) {
	big := strings.Repeat("b", 70000)
	stream := bytes.Join([][]byte{
		text(`{"type":"A"}`),
		frame(true, opPing, []byte("hi")),
		text(""),
		frame(false, opText, []byte("frag")),
		frame(true, opPing, []byte("in between")),
		frame(false, opContinuation, []byte("men")),
		frame(true, opContinuation, []byte("ted")),
		frame(true, opPong, []byte("ignored")),
		text(big),
		text(strings.Repeat("x", 101)), // over the limit of 100 below
		text("after"),
		frame(false, opText, []byte(strings.Repeat("y", 60))), // over the limit in total
		frame(false, opContinuation, []byte(strings.Repeat("y", 60))),
		frame(true, opPing, nil),
		frame(true, opContinuation, []byte("y")),
		frame(true, opBinary, []byte{0, 1}),
		frame(true, opClose, []byte{0x03, 0xe8, 'b', 'y', 'e'}),
		text("never read"),
	}, nil)
	want := []string{`{"type":"A"}`, "", "fragmented", big, "<too large>", "after", "<too large>", "\x00\x01"}
	for _, sizes := range [][]int{nil, {1}, {2, 3}, {7, 1, 100}, {4096}} {
		t.Run(fmt.Sprint(sizes), func(t *testing.T) {
			cc := &chunkConn{data: stream, sizes: sizes}
			c := newConn(cc, nil, len(big), time.Second)
			msgs, err := func() ([]string, error) {
				var out []string
				for {
					m, err := c.Next()
					switch {
					case errors.Is(err, ErrTooLarge):
						out = append(out, "<too large>")
					case err != nil:
						return out, err
					default:
						out = append(out, string(m))
					}
					// The limit is per message: lower it once the big one is in.
					if len(out) == 4 {
						c.max = 100
					}
				}
			}()
			if !errors.Is(err, ErrClosed) {
				t.Errorf("ended with %v, want ErrClosed", err)
			}
			if strings.Join(msgs, "|") != strings.Join(want, "|") {
				t.Errorf("messages\n got %.200q\nwant %.200q", msgs, want)
			}
			got := clientFrames(t, cc.written.Bytes())
			if w := []string{"8a:hi", "8a:in between", "8a:", "88:\x03\xe8"}; strings.Join(got, "|") != strings.Join(w, "|") {
				t.Errorf("client sent %q, want %q", got, w)
			}
			if _, err := c.Next(); !errors.Is(err, ErrClosed) {
				t.Errorf("after close: %v", err)
			}
		})
	}
}

func TestProtocolErrors(t *testing.T) {
	masked := text("x")
	masked[1] |= 0x80
	for name, b := range map[string][]byte{
		"masked":               append(masked, 1, 2, 3, 4),
		"reserved bit":         append([]byte{0xc1, 1}, 'x'),
		"unknown opcode":       {0x83, 0},
		"stray continuation":   frame(true, opContinuation, []byte("x")),
		"text inside fragment": append(frame(false, opText, []byte("a")), text("b")...),
		"long ping":            frame(true, opPing, make([]byte, 126)),
		"fragmented ping":      frame(false, opPing, nil),
		"64-bit length":        {0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 0},
		"cut off":              text("hello")[:4],
	} {
		t.Run(name, func(t *testing.T) {
			c := newConn(&chunkConn{data: b}, nil, 1000, time.Second)
			_, err := readAll(c)
			want := ErrProtocol
			if name == "cut off" {
				want = io.ErrUnexpectedEOF
			}
			if !errors.Is(err, want) {
				t.Fatalf("err = %v, want %v", err, want)
			}
		})
	}
}

// A deadline that interrupts a read halfway through a frame loses nothing:
// the read goes on where it was once the deadline is lifted.
func TestDeadlineMidFrame(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	c := newConn(client, nil, 1000, time.Second)
	msg := text(strings.Repeat("z", 300))
	go func() { _, _ = server.Write(msg[:150]) }()
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Next(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Next = %v, want a deadline error", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	go func() { _, _ = server.Write(msg[150:]) }()
	m, err := c.Next()
	if err != nil || string(m) != strings.Repeat("z", 300) {
		t.Fatalf("Next = %q, %v", m, err)
	}
}

// Fill buffers without consuming, up to its limit; Next then returns the
// messages in order.
func TestFill(t *testing.T) {
	var stream []byte
	for i := range 50 {
		stream = append(stream, text(fmt.Sprintf("m%02d", i))...)
	}
	cc := &chunkConn{data: stream, sizes: []int{12}}
	c := newConn(cc, nil, 1000, time.Second)
	fills := 0
	for {
		err := c.Fill(100)
		if errors.Is(err, ErrBacklogFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fills++
	}
	if c.w-c.r < 100 || fills < 8 {
		t.Fatalf("%d bytes held after %d fills", c.w-c.r, fills)
	}
	msgs, err := readAll(c)
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(msgs) != 50 || msgs[0] != "m00" || msgs[49] != "m49" {
		t.Fatalf("%d messages (%q…), %v", len(msgs), msgs[:min(3, len(msgs))], err)
	}
}

// A connection that ends while Fill holds messages still gives them all,
// in order, before the error: they were received, and a source that lists
// the channels meanwhile must not lose them.
func TestFillThenEOF(t *testing.T) {
	var stream []byte
	for i := range 5 {
		stream = append(stream, text(fmt.Sprintf("m%d", i))...)
	}
	stream = append(stream, text("cut")[:3]...) // a frame the end cuts short
	c := newConn(&chunkConn{data: stream}, nil, 1000, time.Second)
	for {
		if err := c.Fill(1 << 20); err != nil {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatal(err)
			}
			break
		}
	}
	msgs, err := readAll(c)
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(msgs) != 5 || msgs[4] != "m4" {
		t.Fatalf("%q, %v; want the 5 whole messages, then the end", msgs, err)
	}
}

// The handshake works against golang.org/x/net/websocket's server, which
// the fake Asterisk uses, and frames sent with the answer are not lost.
func TestDialXNet(t *testing.T) {
	srv := httptest.NewServer(websocket.Handler(func(ws *websocket.Conn) {
		if ws.Request().Header.Get("Authorization") != "Basic dTpw" {
			return
		}
		for _, m := range []string{"one", strings.Repeat("2", 200000), "three"} {
			if err := websocket.Message.Send(ws, m); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	u, _ := url.Parse("ws" + strings.TrimPrefix(srv.URL, "http") + "/events?app=a")
	h := http.Header{"Authorization": {"Basic dTpw"}, "Origin": {"http://localhost/"}}
	c, err := Dial(context.Background(), u, Options{Header: h})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msgs, err := readAll(c)
	if len(msgs) != 3 || msgs[0] != "one" || len(msgs[1]) != 200000 || msgs[2] != "three" {
		t.Fatalf("messages %.40q, %v", msgs, err)
	}
}

func TestDialRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad-accept" {
			w.Header().Set("Upgrade", "websocket")
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Sec-WebSocket-Accept", "nope")
			w.WriteHeader(http.StatusSwitchingProtocols)
			return
		}
		http.Error(w, "who are you", http.StatusUnauthorized)
	}))
	defer srv.Close()
	base := "ws" + strings.TrimPrefix(srv.URL, "http")
	for path, want := range map[string]string{"/events": "401 Unauthorized", "/bad-accept": "Sec-WebSocket-Accept"} {
		u, _ := url.Parse(base + path)
		if _, err := Dial(context.Background(), u, Options{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", path, err, want)
		}
	}
	u, _ := url.Parse("http://127.0.0.1:1/")
	if _, err := Dial(context.Background(), u, Options{}); err == nil {
		t.Error("http:// scheme accepted")
	}
}

// FuzzConn reads arbitrary bytes, in arbitrary read sizes, and compares
// with a plain reading of the whole stream at once: the same messages, the
// same end, never a panic.
func FuzzConn(f *testing.F) {
	f.Add(bytes.Join([][]byte{text("a"), frame(false, opText, []byte("b")), frame(true, opPing, []byte("p")),
		frame(true, opContinuation, []byte("c")), text(strings.Repeat("d", 300)), frame(true, opClose, nil)}, nil), uint8(3), uint8(5))
	f.Add(text(strings.Repeat("e", 70)), uint8(1), uint8(0))
	f.Add([]byte{0x81, 126, 0, 200}, uint8(2), uint8(2))
	f.Fuzz(func(t *testing.T, stream []byte, s1, s2 uint8) {
		const limit = 64
		want, wantErr := reference(stream, limit)
		cc := &chunkConn{data: stream, sizes: []int{int(s1), int(s2)}}
		got, err := readAll(newConn(cc, nil, limit, time.Second))
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("messages %q, want %q", got, want)
		}
		if errors.Is(err, ErrProtocol) != errors.Is(wantErr, ErrProtocol) || errors.Is(err, ErrClosed) != errors.Is(wantErr, ErrClosed) {
			t.Fatalf("ended with %v, want %v", err, wantErr)
		}
	})
}

// reference decodes a whole stream in one go, by the rules Conn follows.
func reference(b []byte, limit int) (msgs []string, err error) {
	var msg []byte
	inFrag, dropping := false, false
	for {
		if len(b) == 0 {
			return msgs, io.ErrUnexpectedEOF
		}
		if len(b) < 2 {
			return msgs, io.ErrUnexpectedEOF
		}
		fin, rsv, op := b[0]&0x80 != 0, b[0]&0x70, b[0]&0x0f
		hdr, n := 2, uint64(b[1]&0x7f)
		switch n {
		case 126:
			if hdr = 4; len(b) < hdr {
				return msgs, io.ErrUnexpectedEOF
			}
			n = uint64(binary.BigEndian.Uint16(b[2:]))
		case 127:
			if hdr = 10; len(b) < hdr {
				return msgs, io.ErrUnexpectedEOF
			}
			n = binary.BigEndian.Uint64(b[2:])
		}
		switch {
		case n>>63 != 0, rsv != 0, b[1]&0x80 != 0, op >= opClose && (!fin || n > 125),
			op == opContinuation && !inFrag, (op == opText || op == opBinary) && inFrag,
			op > opBinary && op < opClose, op > opPong:
			return msgs, ErrProtocol
		}
		if op < opClose && (dropping || n+uint64(len(msg)) > uint64(limit)) {
			msg, dropping, inFrag = msg[:0], !fin, !fin
			if uint64(len(b)-hdr) < n {
				return msgs, io.ErrUnexpectedEOF
			}
			b = b[hdr+int(n):]
			if fin {
				msgs = append(msgs, "<too large>")
			}
			continue
		}
		if uint64(len(b)-hdr) < n {
			return msgs, io.ErrUnexpectedEOF
		}
		payload := b[hdr : hdr+int(n)]
		b = b[hdr+int(n):]
		switch {
		case op == opClose:
			return msgs, ErrClosed
		case op >= opClose:
		case !fin:
			inFrag = true
			msg = append(msg, payload...)
		default:
			inFrag = false
			msgs = append(msgs, string(append(msg, payload...)))
			msg = msg[:0]
		}
	}
}

// Idle is called each time Next has returned every whole message it had
// read and must read again, and only then: a ping between two reads is no
// message, and a message split across reads is not whole.
func TestIdle(t *testing.T) {
	var data []byte
	for _, f := range [][]byte{text("a"), text("b"), frame(true, opPing, nil), text("c"), text("dd")} {
		data = append(data, f...)
	}
	// Reads of: a and b; the ping and c; half of dd; the rest.
	split := len(text("a")) + len(text("b"))
	sizes := []int{split, len(frame(true, opPing, nil)) + len(text("c")), 2, 100}
	c := Client(&chunkConn{data: data, sizes: sizes}, nil, Options{})
	var log []string
	c.Idle = func() { log = append(log, "idle") }
	for {
		msg, err := c.Next()
		if err != nil {
			break
		}
		log = append(log, string(msg))
	}
	want := "idle a b idle c idle idle dd idle"
	if got := strings.Join(log, " "); got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

// A connection whose reads fill the buffer (a peer sending faster than
// the events are handled) grows its buffer, up to maxGrownBuffer, so
// that one read takes in more; one whose reads never fill it keeps the
// small buffer. Every message comes out whole and in order either way.
func TestBufferGrowsUnderLoad(t *testing.T) {
	var data []byte
	var want int
	for len(data) < 3*maxGrownBuffer {
		data = append(data, text(fmt.Sprintf("event %d %s", want, strings.Repeat("x", 500)))...)
		want++
	}
	for _, tc := range []struct {
		name  string
		sizes []int
		buf   int
	}{
		{"busy", nil, maxGrownBuffer},         // every read takes what the buffer holds
		{"quiet", []int{4096}, initialBuffer}, // a read brings a few events
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Client(&chunkConn{data: bytes.Clone(data), sizes: tc.sizes}, nil, Options{})
			var got int
			for {
				msg, err := c.Next()
				if err != nil {
					break
				}
				if !strings.HasPrefix(string(msg), fmt.Sprintf("event %d ", got)) {
					t.Fatalf("message %d: %.20q", got, msg)
				}
				got++
			}
			if got != want {
				t.Fatalf("%d messages, want %d", got, want)
			}
			if len(c.buf) != tc.buf {
				t.Fatalf("buffer of %d bytes, want %d", len(c.buf), tc.buf)
			}
		})
	}
}
