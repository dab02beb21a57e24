// Package pipedrive is the Pipedrive connector: it writes each activity
// as a call log (/v1/callLogs) on the caller's person and organisation,
// owned by the Pipedrive user the PBX user maps to, exactly once however
// often it is pushed.
//
// It authenticates with an API token or OAuth 2.0 (refresh token), maps
// users by e-mail against Pipedrive's users, reads persons (and, with a
// phone field, organisations) for caller recognition (it is a
// phoneindex.Source) and honours the burst limit and the daily token
// budget. Call logs can be neither upserted nor searched; each creates a
// call activity named after the call log's subject, so the subject ends
// in a short marker of the activity id and a create that may be a retry
// first lists the owner's call activities of that day. See README.md.
package pipedrive
