// Package faulttest holds the process-level fault suite of delivery: real
// callbridge binaries follow a fake Asterisk that plays recorded calls on
// its own clock, whatever callbridge does, and writes their CEL rows as
// Asterisk would; callbridge delivers to a webhook CRM that fails 30 % of
// requests in every way a CRM does, while the suite SIGKILLs callbridge at
// seeded moments (bursts included) and Redis underneath it. At the end
// every activity the CRM holds is compared field by field with the same
// stream replayed without faults (as ARI gives it, or, for the calls
// callbridge did not see whole, as CEL does), and a missing activity, one
// created twice or one in two versions fails the suite. Mutation checks
// link callbridge with the crash journal off, or with a queue that drops
// one activity in 16, and require the suite to fail. An activity that
// arrives unexpected is shown as the CRM got it beside the nearest one the
// replay makes. Beside the suite, a wrap-up pending when callbridge is
// SIGKILLed (and Redis restarted) must still complete its phonecall in a
// strict fake Dataverse.
//
// The package has no code of its own besides its tests. `go test
// ./internal/faulttest` runs the size CI runs (a few minutes);
// -faulttest.full the full size, and -faulttest.seed=N another schedule of
// faults (the seed and every fault are logged). Under the race detector
// only the suite's own parts run: the processes under test are built
// without it either way, and .ci/test runs the suite once more without.
package faulttest
