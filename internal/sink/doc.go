// Package sink holds the simplest place finished activities can go: a
// JSON-lines file, one activity per line, as `callbridge replay` prints them.
package sink
