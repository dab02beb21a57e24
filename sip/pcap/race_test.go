//go:build race

package pcap_test

// raceEnabled: the race detector's bookkeeping makes the 500-call test
// slow; under it the test plays a few recordings (.ci/test plays them all
// once more without it).
const raceEnabled = true
