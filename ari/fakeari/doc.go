// Package fakeari is an in-process stand-in for Asterisk's ARI, for tests
// and for the demo command.
//
// It serves what callbridge and ari/v5's native client use: the events
// websocket (/ari/events) and the read-only REST resources /ari/asterisk/info,
// /ari/channels, /ari/bridges and /ari/endpoints, with Asterisk's
// authentication (HTTP basic or api_key=user:pass). It has no dialplan: it
// plays recordings of a real Asterisk's events websocket (the ari.jsonl
// format), paced by their own timestamps, and answers REST calls from the
// state those events imply, so a client that reconnects and lists channels
// sees what a real Asterisk would have shown at that moment.
//
// Each client has its own queue of messages, as each Asterisk websocket
// does: a client that stops reading falls behind and is dropped once too
// far behind, while playback and the other clients go on. One ARI
// application name belongs to one websocket: a client registering a name
// already in use takes it over, and the first gets ApplicationReplaced and
// nothing more. With Options.CEL the recordings' CEL rows (Recording.CEL,
// their cel.csv) are written as playback reaches their times, moved and
// tagged like the events, whether or not anyone is connected, as
// cel_custom appends to its CSV.
//
// A Drop makes it lose its clients in the middle of a call and refuse them
// for a while, as a restarting or unreachable Asterisk would: the events in
// the gap are never delivered, but the REST state keeps advancing. With
// Options.Hold it plays instead like a PBX whose calls wait while
// callbridge is down: playback stops while no client is connected and goes
// on once one is back (and, with AwaitList, has listed what is live).
// Without Hold, Pause or AwaitList it plays on its own clock whatever its
// clients do, which is what a real Asterisk does.
//
// POST /channels (click-to-dial) is answered as the lab's Asterisk 22 did
// (testdata/lab/ari_click_to_dial_*): 400 for arguments it cannot read,
// 500 {"error": "Allocation failed"} for an endpoint it does not have, of
// an unknown technology or not registered (Options.Offline), else 200
// with the new channel and then the events of a recorded originate
// (Options.Originate) rewritten for the request: its channel id,
// endpoint, number, caller id and variables, starting now.
package fakeari
