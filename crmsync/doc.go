// Package crmsync delivers finished call activities to CRMs, durably and
// exactly once in effect.
//
// The path of an activity after the engine:
//
//	Policy.Decide  -> drop (counted by reason) or accept
//	Store.Enqueue  -> one job per connector, idempotent on the activity id
//	Dispatcher     -> per-connector workers claim jobs under a lease, Push,
//	                  then Ack, Nack with a retry time, or DeadLetter
//
// A Store is the durable part: the embedded bbolt store (package
// crmsync/store/bolt, zero setup) or Redis (crmsync/store/redis, shared by
// several callbridge instances). Both pass the conformance suite in package
// crmsync/store/storetest. A job whose worker died without acking is
// claimed again when its lease runs out, and connectors are idempotent on
// the activity id, so a crash can cause a repeated push but never a lost or
// doubled activity in the CRM.
//
// This package is the contract connectors implement (Connector, and
// optionally BatchPusher and Refresher); it imports none of them. They are
// registered in one map in package crmsync/connectors, and their errors are
// classified with package crmerr.
package crmsync
