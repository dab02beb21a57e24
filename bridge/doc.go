// Package bridge is callbridge's call-state engine.
//
// It turns source-neutral channel events (built by the ARI, AMI and SIP
// adapters) into per-user call activities as defined in SEMANTICS.md: who was
// offered or placed a call, whether they connected, missed it or were not
// accepted, why, and for how long.
//
// The engine is a pure function of the events it is given: it reads no clock,
// does no I/O and logs nothing, so replaying a recording always yields the
// same activities as the live run did. It imports only the standard library;
// a test keeps it that way.
package bridge
