// Package daemon assembles `callbridge run` from a validated config: the
// configured sources, one engine pipeline per source, the activity sink,
// the HTTP listener for health and metrics, and systemd readiness and
// watchdog. It can be started whole inside a test; only main touches OS
// signals.
package daemon
