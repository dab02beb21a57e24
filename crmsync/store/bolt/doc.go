// Package bolt is the embedded crmsync.Store: one bbolt file under the
// state directory, nothing to install. Changes are group-committed: those
// asked for while a commit is on its way to the disk share the next
// transaction and its one fsync (commit.go), and no call returns before
// its transaction is durable, so a crash loses nothing that was
// acknowledged. One process at a time may open the file (bbolt locks it);
// several instances sharing work need the Redis store. Because of that
// lock, the workers' leases are kept in memory, not in the file
// (lease.go): a claim that only leases writes nothing, and when the
// process ends every job it had not acked is ready for the next one.
// Likewise the markers that refuse a repeated activity are appended to a
// time-ordered log in the file and looked up in a table in memory
// (markers.go), so that a commit's new markers share a few pages.
package bolt
