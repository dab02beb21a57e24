package fakeari

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/net/websocket"
)

// outbox is one client's queue of messages and the goroutine writing them.
type outbox struct {
	ch   chan string
	gone chan struct{} // the client was removed
	busy atomic.Int64  // messages queued or being written
	idle chan struct{} // a token whenever busy drops to 0
}

func newOutbox() *outbox {
	return &outbox{ch: make(chan string, outboxSize), gone: make(chan struct{}), idle: make(chan struct{}, 1)}
}

// done counts one message off the queue.
func (o *outbox) done() {
	if o.busy.Add(-1) == 0 {
		select {
		case o.idle <- struct{}{}:
		default:
		}
	}
}

// outboxSize is how many messages a client may be behind.
const outboxSize = 8192

// writeTimeout bounds one write to a client.
const writeTimeout = 5 * time.Second

// put queues msg, or drops the client when it is too far behind.
func (o *outbox) put(c *websocket.Conn, msg string) {
	if o.busy.Load() >= outboxSize {
		c.Close()
		return
	}
	o.busy.Add(1)
	select {
	case o.ch <- msg:
	default:
		o.done()
		c.Close()
	}
}

// write sends the queued messages until the client goes.
func (s *Server) write(c *websocket.Conn, o *outbox) {
	defer s.wg.Done()
	for {
		select {
		case <-o.gone:
			return
		case msg := <-o.ch:
			c.SetWriteDeadline(time.Now().Add(writeTimeout))
			err := websocket.Message.Send(c, msg)
			if err != nil {
				o.done()
				c.Close()
				continue
			}
			s.mu.Lock()
			s.sent++
			s.mu.Unlock()
			o.done()
		}
	}
}

// flush waits until every client has been written what was queued for it
// (or has gone), so that a drop or the end of playback loses nothing that
// came before it.
func (s *Server) flush(ctx context.Context) error {
	deadline := time.Now().Add(2 * writeTimeout)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		idle := true
		for _, o := range s.outboxes {
			if o.busy.Load() > 0 {
				idle = false
			}
		}
		s.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// drain waits until every client has been written all that was queued for
// it, or has gone: at Speed 0 playback goes as fast as the clients read,
// one event at a time, so that what was played has been sent.
func (s *Server) drain(ctx context.Context) error {
	s.mu.Lock()
	boxes := make([]*outbox, 0, len(s.outboxes))
	for _, o := range s.outboxes {
		boxes = append(boxes, o)
	}
	s.mu.Unlock()
	for _, o := range boxes {
	wait:
		for o.busy.Load() > 0 {
			select {
			case <-o.idle:
			case <-o.gone:
				break wait
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}
