// Package faulttest holds the process-level fault test of durable delivery:
// the real callbridge binary follows a fake Asterisk playing thousands of
// recorded calls, delivering to a webhook that fails a third of its
// requests, while the test SIGKILLs and restarts callbridge and restarts
// Redis underneath it. The test then checks that every activity the engine
// makes of the recordings reached the webhook, and nothing else did.
//
// The package has no code of its own besides its tests; run them with
// `go test ./internal/faulttest` (-short plays fewer calls).
package faulttest
