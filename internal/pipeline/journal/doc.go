// Package journal keeps, per source, the events fed to the engine since the
// oldest call still open, in a file under the state directory. The engine is
// a pure function of its events, so a daemon restarted after a crash replays
// the journal and has the very calls it had, then reconciles them with the
// PBX's channel list like after any reconnect: a call that ended while the
// daemon was down is still reported, once (delivery is idempotent on the
// activity id), closed at the last moment it was known alive.
//
// Appends are plain writes, not fsyncs: a killed process loses nothing that
// was written, and a machine crash loses at most what the kernel had not
// flushed, which reconciliation then treats like a reconnect gap.
package journal
