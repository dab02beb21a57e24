// Package crmerr classifies what goes wrong when an activity is pushed to a
// CRM, so the delivery workers know whether to retry, when, or to give up.
//
// Connectors wrap their failures with Permanent, Retryable, Unauthorized or
// FromHTTP; the workers read them back with IsPermanent, RetryAfter and
// IsUnauthorized. Anything not classified is retryable: a failure nobody
// understood is no reason to lose an activity.
//
// It is a leaf package (standard library only) so connectors can use it
// without importing crmsync, which imports the connectors.
package crmerr
