// Package bolt is the embedded crmsync.Store: one bbolt file under the
// state directory, nothing to install. Every change is one fsynced
// transaction, so a crash loses nothing that was acknowledged. One process
// at a time may open the file (bbolt locks it); several instances sharing
// work need the Redis store.
package bolt
