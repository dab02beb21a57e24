//go:build race

package ari

// The race detector slows each live run about fivefold; under it the
// join-late test joins at every fourth event (.ci/test also runs it
// without the detector, at every one).
const raceBuild = true
