// Package rest is what the SaaS CRM connectors share about talking to a
// REST API: one request at a time per concurrency slot, the credential
// added and refreshed once when refused, every answer counted, errors
// classified with package crmerr from the CRM's own error shape, and
// every secret and token scrubbed from any text that could reach an error
// or a log line.
//
// A connector supplies what differs: how to authorise a request (a bearer
// token fetched with OAuth, a static API token, a session cookie) and how
// to read its CRM's error bodies (Decoder).
package rest
