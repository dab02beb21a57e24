// Package routing decides where an inbound call goes before it rings
// anyone: the dialplan asks (GET or POST /api/route with the caller's and
// the called number) and gets a target, or nothing to do. Rules are tried
// in order and the first that matches wins: the caller's CRM record's
// owner, a value of a field of that record, a prefix or a list of the
// caller's number, optionally only while the target user is not on a call.
//
// Everything is answered from memory (the phone indexes, the user
// mapping, the engine's live state) and the router fails open: an index
// still loading, a failing lookup or an unknown caller give no target,
// never an error and never a wait. It never answers the called number
// itself, which would loop the call back into the same dialplan.
package routing
