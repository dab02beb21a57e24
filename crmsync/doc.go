// Package crmsync is the CRM side of callbridge's contract: the connector
// interfaces, the policy, the durable queue's Store interface and the
// delivery workers. Finished activities reach the CRMs durably and exactly
// once in effect.
//
// The path of an activity after the engine (the stages internal/pipeline's
// Build lists):
//
//	policy     Policy.Decide: drop (counted by reason) or accept
//	queue      Store.Enqueue: one job per connector, idempotent on the activity id
//	assign     Assign: the policy's Assignment (owner, e-mail, template), per delivery
//	connector  Push: Connector.Push, refreshing a refused credential once
//	settle     Settle: Ack, Nack with a retry time, or DeadLetter
//
// The Dispatcher's workers claim jobs under a lease and take them through
// the last three. A Store is the durable part: the embedded bbolt store
// (package crmsync/store/bolt, zero setup) or Redis (crmsync/store/redis,
// shared by several callbridge instances). Both pass the conformance suite
// in package crmsync/store/storetest. A job whose worker died without
// acking is claimed again when its lease runs out, and connectors are
// idempotent on the activity id, so a crash can cause a repeated push but
// never a lost or doubled activity in the CRM.
//
// Beside activities the queue carries tasks (task.go): wrap-up updates of
// activities (Updater; Wrapups queues them, and with
// wrapup.complete_on_wrap the open pushes and their completions) and
// callback requests (CallbackWriter; Callbacks queues them). The
// dispatcher runs a task after its activity is delivered.
//
// This package imports no connector. They implement Connector (and
// optionally BatchPusher, Refresher, UserSyncer, UserMapper, Updater,
// CallbackWriter), classify their errors
// with package crmerr, pass the suite in crmsync/crmtest and are registered
// in one map in crmsync/connectors; README.md is the connector author's
// guide.
package crmsync
