// Package bridge is callbridge's call-state engine.
//
// It turns source-neutral channel events (built by the ARI, AMI and SIP
// adapters) into per-user call activities as docs/activity.md defines them:
// who was offered or placed a call, whether they connected, missed it or
// were not accepted, why, and for how long.
//
// The engine is a pure function of the events it is given: it reads no clock,
// does no I/O and logs nothing, so replaying a recording always yields the
// same activities as the live run did. It imports only the standard library;
// a test keeps it that way.
//
// Reading order: engine.go (Config, Apply and its dispatch per event kind),
// then the handlers by concern: channels.go (channels appear, dial, ring,
// hang up), calls.go (bridges join legs into calls; the last hang-up
// finishes a call), transfers.go (blind and attended transfers, pickup,
// parking), privacy.go and snapshot.go (reconciliation after a reconnect);
// finish hands each user's leg to outcome.go, which writes the activity with
// the help of parties.go (who the remote party is) and times.go. state.go
// holds the types all of them share, directory.go who is a user.
package bridge
