// Package phone normalises telephone numbers as a PBX presents them
// ("0401234567", "00358401234567", "+358 40 123 4567") to E.164
// ("+358401234567") for a configured default region, so that a CRM can match
// the remote party of an activity against its contacts.
//
// It wraps github.com/nyaruka/phonenumbers and keeps its quirks out of the
// rest of the code: what counts as a number at all, and what to do with
// input that is clearly not one (caller ids such as "anonymous", internal
// extensions, feature codes).
package phone
