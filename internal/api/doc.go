// Package api is callbridge's one HTTP mux on http.listen. Every route is
// registered with the role that may call it (Public, Dialplan, Agent,
// Admin) and passes through the one middleware that checks it: Mux.Handle
// takes the role as an argument, so a route without one cannot be added.
// Today's Authorizer, AllowAll, lets every role through (the listener is
// on loopback by default); tokens per role plug in there.
//
// Routes answer from memory; anything slow happens before (a sync) or
// after (the queue), never in the request. The package reaches the rest of
// callbridge only through the small interfaces it defines (Lookup, Router,
// Presence, Wrapups, Callbacks, Integrations, Users, Queue, Live), which
// internal/app implements and wires: see New for every route and its role.
//
// The dialplan's routes fail open and answer from memory: /api/route
// answers no target (204) rather than an error, whatever goes wrong.
// Request bodies are bounded (http.MaxBytesReader) and numbers appear in
// log lines masked to their last four digits.
package api
