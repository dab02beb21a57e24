// Package pipeline runs one source's events through the call-state engine
// and hands on what comes out: finished activities, completed with the
// remote party's E.164 number, and live transitions. Replay and the daemon
// use the same Pipeline, so a recording gives exactly what the live source
// would have.
package pipeline
