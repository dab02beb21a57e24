// Package pipeline is the path of an activity from the PBX to the CRMs,
// laid out by Build in one list of stages:
//
//	1 decode     the source adapter: the PBX's messages to bridge.Events
//	2 engine     journaled events through the call-state engine
//	3 sink       every finished activity to sink.file
//	4 policy     accept, or drop and count why
//	5 queue      one durable job per connector
//	6 assign     what the policy says about owner and template (crmsync)
//	7 connector  the CRM writes it (crmsync)
//	8 settle     ack, retry later, or dead letter (crmsync)
//
// Stages 1 to 5 run on each source's goroutine, so an activity is kept
// before the next event is read; 6 to 8 run in the delivery workers for
// each job they claim. Replay and the daemon use the same Engine, so a
// recording gives exactly what the live source would have.
package pipeline
