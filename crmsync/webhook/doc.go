// Package webhook is the generic connector: it POSTs each activity's JSON
// (the form in docs/activity.md) to a URL the CRM side controls, signed with
// HMAC-SHA256 so the receiver can tell it came from callbridge, and with an
// Idempotency-Key so a repeated delivery can be recognised. See README.md.
package webhook
