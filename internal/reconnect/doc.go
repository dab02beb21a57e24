// Package reconnect is the connection loop of the PBX sources: run a
// session, and when it ends, wait a doubling, jittered backoff before the
// next, starting over once a session got as far as being in sync.
package reconnect
