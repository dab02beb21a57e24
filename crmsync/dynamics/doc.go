// Package dynamics is the Microsoft Dynamics 365 (Dataverse Web API v9.2)
// connector: it writes each activity as a completed phonecall on the
// contact's timeline, owned by the CRM user the PBX user maps to, exactly
// once however often it is pushed.
//
// Exactly once rests on a deterministic primary key: the phonecall's
// activityid is a name-based UUID of the activity id, so a create that is
// retried after it already succeeded is refused by Dataverse (412, duplicate
// key) and counted as done; only the completion step is repeated. An
// optional start-margin query also recognises the same call written by
// another system.
//
// The connector also maps PBX users to Dataverse system users (SyncUsers),
// reads contacts, accounts and leads for caller recognition (it is a
// phoneindex.Source), respects Dataverse's service-protection limits
// (429 with Retry-After, a concurrency cap) and drains backlogs with
// $batch (PushBatch). See README.md for setup in Azure and Dataverse.
package dynamics
