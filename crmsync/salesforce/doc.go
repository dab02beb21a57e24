// Package salesforce is the Salesforce connector: it writes each activity
// as a completed call Task (TaskSubtype Call) on the caller's contact or
// lead and their account, owned by the Salesforce user the PBX user maps
// to, exactly once however often it is pushed.
//
// It authenticates with the OAuth 2.0 client credentials flow or the JWT
// bearer flow, maps users by e-mail against Salesforce's users, reads
// contacts, leads and accounts for caller recognition (it is a
// phoneindex.Source) and drains backlogs with sObject Collections (200
// tasks a request). Exactly once rests on an upsert on an External ID
// field when one is configured, else on a SOQL lookup by CallObject before
// a create that may be a retry. See README.md.
package salesforce
