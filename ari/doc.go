// Package ari attaches callbridge to Asterisk's REST Interface: it maps ARI
// events (github.com/CyCoreSystems/ari/v5) to the engine's source-neutral
// bridge.Event, reads recorded event streams for replay, and runs the live
// websocket source with reconnect and reconciliation.
package ari
