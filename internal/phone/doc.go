// Package phone normalises telephone numbers as a PBX presents them
// ("0401234567", "00358401234567", "+358 40 123 4567") to E.164
// ("+358401234567") for a configured default region, so that a CRM can match
// the remote party of an activity against its contacts.
//
// It wraps github.com/nyaruka/phonenumbers and keeps its quirks out of the
// rest of the code: what counts as a number at all, and what to do with
// input that is clearly not one (caller ids such as "anonymous", internal
// extensions, feature codes).
//
// Numbers of digits only, national or with '+', take a fast path (fast.go)
// that follows the library's own steps with its metadata and gives its
// answers, at a small fraction of the cost; whatever is not plain for that
// path is parsed in full.
package phone
