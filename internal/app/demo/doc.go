// Package demo is `callbridge demo`: recordings of real calls on a real
// Asterisk 22, served by a local fake ARI over a real websocket, consumed by
// callbridge's own ARI source and engine, printed as a table of activities
// as they are produced, then delivered through the real delivery path to a
// local webhook receiver or to a CRM preset's strict fake (presets.go).
// Nothing beyond loopback is needed.
package demo
