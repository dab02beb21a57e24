// Package zoho is the Zoho CRM connector: it writes each activity as a
// record of the Calls module on the caller's contact (or lead) and their
// account, owned by the Zoho user the PBX user maps to, exactly once
// however often it is pushed.
//
// It authenticates with an OAuth 2.0 refresh token against the account's
// data centre, maps users by e-mail against Zoho's users, reads contacts,
// leads and accounts for caller recognition (it is a phoneindex.Source)
// and drains backlogs with inserts of 100 records. Zoho's upsert does not
// cover the Calls module, so exactly once rests on a marker field: looked
// up with COQL before a create that may be a retry, and refused as
// DUPLICATE_DATA when the field is unique. See README.md.
package zoho
