// Package journal keeps, per source, the events fed to the engine since the
// oldest call still open, in a file under the state directory. The engine is
// a pure function of its events, so a daemon restarted after a crash replays
// the journal and has the very calls it had, then reconciles them with the
// PBX's channel list like after any reconnect: a call that ended while the
// daemon was down is still reported, once (delivery is idempotent on the
// activity id), closed at the last moment it was known alive.
//
// Events are appended in batches: Append encodes into memory, Flush writes
// the batch with one write. The pipeline flushes a batch before it hands
// on the activities the batch finished, so a killed process loses nothing
// that was acted on. Writes are not fsyncs: a machine crash loses at most
// what the kernel had not flushed, which reconciliation then treats like
// a reconnect gap, and a batch only partly on disk fails its checksum and
// is cut off.
//
// Records are binary (record.go, encode.go): a version header, then
// batches, each a length and a CRC-32C before its records. A channel is
// described in full once, in a record of its own that the engine is not
// fed, and the events about it give only what changed since; a
// description is kept as long as an event referring to it is, so
// compaction still copies the kept records byte for byte. For each record
// the journal notes in memory which channels it is about (4 bytes a
// record, the channels' pointers shared), so that compaction decodes none:
// it finds where records end by their lengths, as a replay does. Journals in the earlier formats
// (JSON, then version 1 of the binary one; same file name) still replay,
// and are rewritten in the current format as they do.
package journal
