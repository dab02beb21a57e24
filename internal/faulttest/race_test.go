//go:build race

package faulttest

// raceDetector: under -race the test's own decoding and the fake
// Asterisk run several times slower, so the workload shrinks as with
// -short. The callbridge binary under test is built without it either way.
const raceDetector = true
