package crmsync_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The dispatcher starts goroutines per connector and per push; none may
// outlive Run.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
