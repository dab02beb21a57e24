// Package recorded gives tests the activities the engine makes of the
// recordings in testdata/recordings, from ARI and from AMI, without a user
// directory and with the lab's: what `callbridge replay` gives, as bridge's
// golden tests replay them. Encoders and decoders of activities check
// themselves against these; the live transitions of the same replays feed
// the caller cards' benchmark.
package recorded
