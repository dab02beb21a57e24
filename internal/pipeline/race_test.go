//go:build race

package pipeline

// The race detector slows the crash test's journal work about eightfold;
// under it the large recordings are cut at fewer points.
const raceBuild = true
