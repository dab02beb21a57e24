// Package redis is the crmsync.Store on Redis (single, Sentinel or
// Cluster), for several callbridge instances sharing the work.
//
// Each connector has a Stream read through one consumer group: reading
// leases a job to an instance, XACK settles it, and XAUTOCLAIM hands the
// jobs of a crashed instance to the others once their lease has run out.
// Retries wait in a sorted set scored by due time, dead letters in a hash.
// "Enqueued" and "delivered" markers are SET NX keys with an expiry, which
// make enqueueing and delivery idempotent on the activity id. Accepted call
// starts live in one sorted set per user and remote number for the
// start-margin rule. Everything that must happen together is one Lua
// script, and a connector's keys share one hash tag so the scripts work on
// a Cluster.
package redis
