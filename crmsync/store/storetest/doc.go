// Package storetest is the conformance suite every crmsync.Store passes:
// idempotent enqueue, leases and their takeover, retries, dead letters and
// the operator's retry and purge, stats, and the atomic start-margin
// reservation. Store packages call Run from their tests.
package storetest
