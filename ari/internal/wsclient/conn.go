package wsclient

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

var (
	// ErrTooLarge is returned for a message over the limit. Its bytes have
	// been skipped; the connection goes on with the next message.
	ErrTooLarge = errors.New("websocket: message too large")
	// ErrClosed is returned once the peer has sent a close frame.
	ErrClosed = errors.New("websocket: closed by the peer")
	// ErrProtocol wraps a violation of RFC 6455 by the peer; the
	// connection cannot go on.
	ErrProtocol = errors.New("websocket: protocol error")
	// ErrBacklogFull is returned by Fill when the unread bytes reached
	// the limit it was given.
	ErrBacklogFull = errors.New("websocket: backlog full")
)

// Opcodes (RFC 6455 section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// initialBuffer is the read buffer's starting size: enough for a few
// hundred ARI events per read system call.
const initialBuffer = 256 << 10

// maxGrownBuffer bounds how far a busy connection's buffer grows. A read
// that fills the buffer says more is waiting in the kernel: the buffer
// doubles for the next read, so that under load one read, and so one of
// the pipeline's batches (one journal write, one sink sync, one store
// commit), takes in thousands of events rather than hundreds. An idle
// connection keeps the small buffer.
const maxGrownBuffer = 4 << 20

// Conn is a client connection. Next, Fill and the control frames they
// answer are for one goroutine; Close and SetReadDeadline may be called
// from any.
type Conn struct {
	nc           net.Conn
	max          int           // largest message accepted
	writeTimeout time.Duration // for pongs and the close reply

	buf  []byte // buf[r:w] is read but not yet consumed
	r, w int
	// filled says the last read filled buf: the next read grows it.
	filled bool

	frag    []byte // a fragmented message being put together
	inFrag  bool   // between a non-final data frame and its final continuation
	drop    int64  // payload bytes of an oversize frame still to skip
	dropMsg bool   // the message being skipped continues after this frame
	err     error  // sticky: the stream is unusable (a protocol error)
	rerr    error  // sticky: the connection ended; what is buffered is still read

	// Idle, if set, is called when Next has returned every message
	// buffered and is about to read from the connection, which may wait.
	Idle func()
}

// Client wraps nc, a connection whose opening handshake is done (by Dial,
// or by a test that plays a server); pending holds bytes already read past
// the handshake.
func Client(nc net.Conn, pending []byte, o Options) *Conn {
	o.defaults()
	return newConn(nc, pending, o.MaxMessage, o.Timeout)
}

func newConn(nc net.Conn, pending []byte, maxMessage int, writeTimeout time.Duration) *Conn {
	c := &Conn{nc: nc, max: maxMessage, writeTimeout: writeTimeout}
	c.buf = make([]byte, max(initialBuffer, len(pending)))
	c.w = copy(c.buf, pending)
	return c
}

// Close closes the connection without a closing handshake: the events
// stream has nothing to flush.
func (c *Conn) Close() error { return c.nc.Close() }

// SetReadDeadline sets the underlying connection's read deadline. A read
// it interrupts returns an error for which os.ErrDeadlineExceeded holds,
// and may be retried once the deadline is moved: nothing is lost.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// Next returns the next text or binary message. The slice aliases the
// read buffer and is valid until the next call to Next or Fill. Pings are
// answered and pongs ignored on the way. A message over the limit is
// skipped and reported as ErrTooLarge; the next call goes on after it.
func (c *Conn) Next() ([]byte, error) {
	for {
		if c.err != nil {
			return nil, c.err
		}
		if c.drop > 0 {
			if c.rerr != nil {
				return nil, c.rerr
			}
			done, err := c.skip()
			if err != nil {
				return nil, err
			}
			if done {
				return nil, ErrTooLarge
			}
			continue
		}
		msg, need, err := c.frame()
		if err != nil {
			if !errors.Is(err, ErrTooLarge) {
				c.err = err
			}
			return nil, err
		}
		if msg != nil {
			return msg, nil
		}
		if need == 0 {
			continue // a control frame, handled
		}
		if c.rerr != nil {
			return nil, c.rerr // every whole message buffered was returned
		}
		if c.Idle != nil {
			c.Idle()
		}
		if err := c.read(need); err != nil {
			return nil, err
		}
	}
}

// Fill reads once more from the connection into the buffer without
// consuming anything, so that a peer that keeps sending is not held up
// while the caller is busy elsewhere. Messages read this way are returned
// by Next later, in order. It returns ErrBacklogFull, without reading,
// once limit bytes are waiting.
func (c *Conn) Fill(limit int) error {
	if c.err != nil {
		return c.err
	}
	if c.rerr != nil {
		return c.rerr
	}
	if c.w-c.r >= limit {
		return ErrBacklogFull
	}
	return c.read(c.w - c.r + 1)
}

// frame consumes the frame at buf[r] if it is complete. It returns a data
// message when the frame completes one, or need > 0: the bytes from r the
// frame needs. need == 0 without a message means a control frame (or a
// fragment) was consumed.
func (c *Conn) frame() (msg []byte, need int, err error) {
	b := c.buf[c.r:c.w]
	if len(b) < 2 {
		return nil, 2, nil
	}
	fin, rsv, op := b[0]&0x80 != 0, b[0]&0x70, b[0]&0x0f
	masked, n7 := b[1]&0x80 != 0, int64(b[1]&0x7f)
	hdr, n := 2, n7
	switch n7 {
	case 126:
		hdr = 4
		if len(b) < hdr {
			return nil, hdr, nil
		}
		n = int64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		hdr = 10
		if len(b) < hdr {
			return nil, hdr, nil
		}
		u := binary.BigEndian.Uint64(b[2:])
		if u>>63 != 0 {
			return nil, 0, fmt.Errorf("%w: frame length %d", ErrProtocol, u)
		}
		n = int64(u)
	}
	switch {
	case rsv != 0:
		return nil, 0, fmt.Errorf("%w: reserved bits set (no extension was agreed)", ErrProtocol)
	case masked:
		return nil, 0, fmt.Errorf("%w: masked frame from the server", ErrProtocol)
	case op >= opClose && (!fin || n > 125):
		return nil, 0, fmt.Errorf("%w: fragmented or long control frame", ErrProtocol)
	case op == opContinuation && !c.inFrag, (op == opText || op == opBinary) && c.inFrag:
		return nil, 0, fmt.Errorf("%w: fragments out of order", ErrProtocol)
	case op > opBinary && op < opClose, op > opPong:
		return nil, 0, fmt.Errorf("%w: unknown opcode %d", ErrProtocol, op)
	}
	if op < opClose && (c.dropMsg || n+int64(len(c.frag)) > int64(c.max)) {
		// Too large: skip it (and the rest of its message) as it comes.
		c.r += hdr
		c.drop, c.inFrag, c.dropMsg, c.frag = n, !fin, !fin, c.frag[:0]
		done, err := c.skip()
		if err != nil || !done {
			return nil, 0, err
		}
		return nil, 0, ErrTooLarge
	}
	total := hdr + int(n)
	if len(b) < total {
		return nil, total, nil
	}
	payload := b[hdr:total]
	c.r += total
	switch op {
	case opPing:
		return nil, 0, c.writeControl(opPong, payload)
	case opPong:
		return nil, 0, nil
	case opClose:
		_ = c.writeControl(opClose, closeCode(payload))
		return nil, 0, ErrClosed
	}
	switch {
	case fin && !c.inFrag:
		return payload, 0, nil
	case !fin:
		c.inFrag = true
		c.frag = append(c.frag, payload...)
		return nil, 0, nil
	default: // the final continuation
		c.inFrag = false
		c.frag = append(c.frag, payload...)
		msg, c.frag = c.frag, c.frag[:0]
		return msg, 0, nil
	}
}

// closeCode is what a close reply echoes: the status code alone.
func closeCode(payload []byte) []byte {
	if len(payload) >= 2 {
		return payload[:2]
	}
	return nil
}

// skip drops the oversize frame's payload as far as it is buffered, then
// reads on. done says the whole oversize message is gone; otherwise its
// continuation frames are dropped as frame meets them.
func (c *Conn) skip() (done bool, err error) {
	for c.drop > 0 {
		if c.r == c.w {
			if err := c.read(1); err != nil {
				return false, err
			}
		}
		k := min(c.drop, int64(c.w-c.r))
		c.r += int(k)
		c.drop -= k
	}
	return !c.dropMsg, nil
}

// read reads at least once from the connection, making room for need
// bytes from r first. A read error other than a timeout is sticky.
func (c *Conn) read(need int) error {
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
	if c.r+need > len(c.buf) || c.r > 0 && len(c.buf)-c.w < len(c.buf)/2 {
		// At least half the buffer is free for the read, so that one
		// that fills it tells of load, not of a short tail.
		if c.r > 0 {
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		}
		if need > len(c.buf) {
			nb := make([]byte, max(need, 2*len(c.buf)))
			copy(nb, c.buf[:c.w])
			c.buf = nb
		}
	}
	if c.filled && len(c.buf) < maxGrownBuffer {
		nb := make([]byte, 2*len(c.buf))
		c.w = copy(nb, c.buf[c.r:c.w])
		c.r, c.buf = 0, nb
	}
	n, err := c.nc.Read(c.buf[c.w:])
	c.w += n
	c.filled = c.w == len(c.buf)
	switch {
	case n > 0 || err == nil:
		return nil
	case isTimeout(err):
		return err
	case errors.Is(err, io.EOF):
		c.rerr = io.ErrUnexpectedEOF
	default:
		c.rerr = err
	}
	return c.rerr
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeControl sends a control frame, masked as a client must.
func (c *Conn) writeControl(op byte, payload []byte) error {
	var f [2 + 4 + 125]byte
	f[0] = 0x80 | op
	f[1] = 0x80 | byte(len(payload))
	if _, err := rand.Read(f[2:6]); err != nil {
		return err
	}
	for i, p := range payload {
		f[6+i] = p ^ f[2+i%4]
	}
	if c.writeTimeout > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	}
	if _, err := c.nc.Write(f[:6+len(payload)]); err != nil {
		return fmt.Errorf("websocket: write: %w", err)
	}
	return nil
}
