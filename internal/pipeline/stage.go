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

// BatchStage is a Stage that is cheaper given many activities at once (the
// sink: one write and one sync for all). HandleBatch sets pass[i] false
// to stop as[i] there.
type BatchStage interface {
	Stage
	HandleBatch(ctx context.Context, as []bridge.Activity, pass []bool)
}

// HandleBatch runs a batch of activities through the stages: a
// BatchStage takes every activity still going at once; a run of other
// stages takes them one by one, each through the whole run before the
// next, as Handle would. It reports which activities every stage passed.
func (s Stages) HandleBatch(ctx context.Context, as []bridge.Activity) []bool {
	pass := make([]bool, len(as))
	for i := range pass {
		pass[i] = true
	}
	for i := 0; i < len(s); {
		if b, ok := s[i].(BatchStage); ok {
			b.HandleBatch(ctx, as, pass)
			i++
			continue
		}
		end := i
		for end < len(s) {
			if _, ok := s[end].(BatchStage); ok {
				break
			}
			end++
		}
		for k, a := range as {
			if pass[k] {
				pass[k] = s[i:end].Handle(ctx, a)
			}
		}
		i = end
	}
	return pass
}
