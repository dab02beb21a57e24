// Package hubspot is the HubSpot connector: it writes each activity as a
// calls engagement associated with the caller's contact and company,
// owned by the HubSpot owner the PBX user maps to, exactly once however
// often it is pushed.
//
// It authenticates with a private app's access token, maps users by
// e-mail against HubSpot's owners, reads contacts and companies for caller
// recognition (it is a phoneindex.Source) and drains backlogs with the
// batch create endpoint (100 calls a request). HubSpot has no upsert for
// calls (unique-value properties exist on contacts, companies, deals,
// tickets and custom objects only), so exactly once rests on a marker
// property searched before a create that may be a retry, allowing for the
// search index's lag. See README.md.
package hubspot
