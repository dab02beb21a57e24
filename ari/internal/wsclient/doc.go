// Package wsclient is the client side of a WebSocket (RFC 6455) connection
// as the ARI events stream needs it: dial and handshake, then read
// messages one after another out of one reusable buffer, answering pings
// on the way.
//
// It exists because reading is the hot path of a busy PBX's event stream
// and the general-purpose packages allocate a frame reader and a fresh
// payload buffer for every message. Here a message is a slice of the read
// buffer (valid until the next read), every frame that one read system
// call brought in is served without another, and nothing is allocated per
// message. A read may be interrupted with a deadline and resumed: bytes
// are consumed only once a whole frame is in the buffer, so a timeout never
// loses a partial frame. That lets the ARI source keep reading (buffering
// events) while it lists channels over REST, on one goroutine.
//
// Only what the events stream uses is implemented: no extensions, no
// subprotocols, sending limited to control frames (pong, close).
package wsclient
