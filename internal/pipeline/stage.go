package pipeline

import (
	"context"

	"github.com/callbridge/callbridge/bridge"
)

// Stage is one step of a finished activity's way from the engine to the
// delivery queue, on the source's goroutine. It returns false to stop the
// activity there: dropped by the policy, or failed (the stage has counted
// and logged why).
type Stage interface {
	Handle(ctx context.Context, a bridge.Activity) bool
}

// Stages runs each stage in turn while they pass the activity on.
type Stages []Stage

// Handle implements Stage: true when every stage passed a on.
func (s Stages) Handle(ctx context.Context, a bridge.Activity) bool {
	for _, st := range s {
		if !st.Handle(ctx, a) {
			return false
		}
	}
	return true
}
