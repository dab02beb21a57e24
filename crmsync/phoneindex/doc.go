// Package phoneindex recognises callers: it maps a telephone number to the
// CRM records (contacts, accounts, leads, ...) that hold it, from an
// in-memory index that a background sync keeps fresh.
//
// Recognition feeds an activity's "regarding" record, the screen pop and a
// dialplan lookup, all of which sit in or next to the call path. A lookup is
// therefore a map access and never a CRM round-trip: the CRM is only read by
// Sync, in full (every record, paged) or incrementally (records modified
// since the last sync).
//
// Numbers are matched in two ways:
//
//   - exactly, by E.164, for every CRM number that normalises with the
//     integration's default region;
//   - by the last N significant digits (default 9), for CRM numbers kept in
//     a local form that does not normalise, so an untidy CRM still
//     recognises its callers.
//
// When several records hold a number, all are kept; the best is chosen
// deterministically: exact before last-digits matches, people (contacts,
// leads) before organisations (accounts), then the most recently modified,
// then by entity and id.
//
// Each Integration has its settings, its cached records and its state
// (last refresh, next sync, enabled) persisted through a Persister, so a
// restart recognises callers at once without waiting for the CRM.
// Disabling an integration suppresses matches but keeps the data; deleting
// it erases both.
//
// A record may carry optional attributes (Record.URL, Org, Owner and
// Fields) that a lookup hands back in its Candidates: where the record
// opens in the CRM, a person's organisation, the record's owner, display
// fields for a caller card. The index keeps them as it was given them and
// reads none of them itself.
//
// The index keeps its records in a few flat arrays outside the Go heap
// (store.go): about a hundred bytes a number, nothing for the garbage
// collector to scan, and a cache file (codec.go) that loads a million
// numbers in well under a second of CPU. Attributes cost their length and
// a few bytes in the same arrays (attrs.go), one byte for a record without.
package phoneindex
