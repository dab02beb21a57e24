// Package reconnect is how callbridge waits before trying again: the
// connection loop of the PBX sources (run a session, and when it ends, wait
// a doubling, jittered backoff before the next, starting over once a
// session got as far as being in sync), and the Backoff and Retry that the
// delivery queue and the SIP subscriber use for their own retries.
package reconnect
