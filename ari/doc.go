// Package ari attaches callbridge to Asterisk's REST Interface: it maps ARI
// events (github.com/CyCoreSystems/ari/v5) to the engine's source-neutral
// bridge.Event, reads recorded event streams for replay, and runs the live
// websocket source with reconnect and reconciliation.
//
// Replay and the live source decode with the Decoder (decode.go): one pass
// over each message, straight into ari/v5's event types, then Map. It
// gives exactly what ari/v5's own DecodeEvent and Map give (Decode, kept as
// the reference and the fallback for anything unusual); tests compare the
// two on every recorded message and by fuzzing. The live source does not
// use ari/v5's native client for the connection either: in v5.3.1 its
// event bus drops events without a word when a subscriber is 100 behind
// (under load the attended-transfer recording lost 18 to 110 of its 211
// events that way), it cannot tell a
// subscriber that it reconnected (so nothing could reconcile the gap), and
// it retries refused credentials forever. The source instead opens the
// same events websocket (/ari/events?app=…&subscribeAll=true, so no call
// has to enter Stasis) with its own reader (internal/wsclient: one reused
// buffer, no goroutine per message), and after every connect lists
// channels and bridges over REST for the engine's snapshot.
// A test checks that ari/v5's native client itself works against the fake
// Asterisk the tests use, so the two stay interchangeable.
package ari
