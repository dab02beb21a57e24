// Package netallow decides which peers a capture listener takes packets
// from: a listener on a loopback address hears only the host itself; one
// off loopback (a wildcard or a network address) takes packets only from
// the source networks configured for it, so nobody on the network can
// feed callbridge invented calls.
package netallow
