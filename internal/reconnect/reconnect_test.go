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

func TestBackoffWait(t *testing.T) {
	equal := Backoff{Min: time.Second, Max: 30 * time.Second}
	spread := Backoff{Min: time.Second, Max: 30 * time.Second, Spread: 0.2}
	for _, tt := range []struct {
		n    int
		base time.Duration
	}{{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {6, 30 * time.Second}, {100, 30 * time.Second}} {
		for range 20 {
			if w := equal.Wait(tt.n); w < tt.base/2 || w > tt.base {
				t.Errorf("equal jitter, failure %d: %v, want %v/2..%v", tt.n, w, tt.base, tt.base)
			}
			if w := spread.Wait(tt.n); w < tt.base*4/5 || w > tt.base*6/5 {
				t.Errorf("±20 %%, failure %d: %v, want %v ±20 %%", tt.n, w, tt.base)
			}
		}
	}
}

func TestRetry(t *testing.T) {
	n := 0
	var attempts []int
	err := Retry(context.Background(), Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond}, func(context.Context) error {
		if n++; n < 3 {
			return errors.New("down")
		}
		return nil
	}, func(_ error, attempt int, _ time.Duration) { attempts = append(attempts, attempt) })
	if err != nil || n != 3 || len(attempts) != 2 || attempts[1] != 2 {
		t.Fatalf("err %v after %d calls, retries %v", err, n, attempts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	down := errors.New("down")
	err = Retry(ctx, Backoff{Min: time.Hour, Max: time.Hour}, func(context.Context) error { return down }, func(error, int, time.Duration) { cancel() })
	if !errors.Is(err, down) {
		t.Fatalf("retry ended by its context: %v, want the last error", err)
	}
}
