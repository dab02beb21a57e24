// Package crmtest is the conformance suite every connector passes: errors
// classified for retry as the delivery workers expect (network errors, 5xx
// and 429 retryable with Retry-After honoured; 400, 403, 404, 422
// permanent; 401 unauthorized), idempotent pushes, and no secret in any
// error or log line. It also holds the rig the connectors' own tests share
// (a hand-moved clock, sample calls, pushes, backlogs, a synced phone
// index), kept here once instead of in each connector's tests.
package crmtest
