package reconnect

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLoop(t *testing.T) {
	fatal := errors.New("refused")
	var waits []time.Duration
	n := 0
	err := Loop(context.Background(), Policy{
		Min: 8 * time.Millisecond, Max: 32 * time.Millisecond,
		Fatal:    func(err error) bool { return errors.Is(err, fatal) },
		Retrying: func(_ error, _ int, w time.Duration) { waits = append(waits, w) },
	}, func(context.Context) (bool, error) {
		n++
		switch n {
		case 4: // got in sync: the backoff starts over after it
			return true, errors.New("dropped")
		case 6:
			return false, fatal
		}
		return false, errors.New("down")
	})
	if !errors.Is(err, fatal) || n != 6 || len(waits) != 5 {
		t.Fatalf("err %v after %d sessions, %d waits", err, n, len(waits))
	}
	// Each wait is within [backoff/2, backoff]: 8, 16, 32, reset to 8, 16.
	for i, max := range []time.Duration{8, 16, 32, 8, 16} {
		if w := waits[i]; w < max*time.Millisecond/2 || w > max*time.Millisecond {
			t.Errorf("wait %d: %v, want within %v/2..%v", i, w, max*time.Millisecond, max*time.Millisecond)
		}
	}
}

func TestLoopEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	err := Loop(ctx, Policy{Min: time.Hour, Max: time.Hour}, func(context.Context) (bool, error) {
		cancel()
		return false, errors.New("down")
	})
	if err != nil {
		t.Fatal(err)
	}
}
