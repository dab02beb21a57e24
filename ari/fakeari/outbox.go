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
		o.busy.Add(-1)
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
			o.busy.Add(-1)
			if err != nil {
				c.Close()
				continue
			}
			s.mu.Lock()
			s.sent++
			s.mu.Unlock()
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
