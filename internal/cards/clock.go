package cards

import (
	"sort"
	"sync"
	"time"
)

// Clock is what the card delay runs on.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f once d has passed, on a goroutine of its own;
	// stop cancels it (false when f already ran or is running).
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// RealClock is the wall clock.
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return time.Now() }

// AfterFunc implements Clock.
func (RealClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// ManualClock is a Clock that moves only when told (Set): tests drive it
// with the recorded events' own times, so a delay plays out as it would
// have during the call.
type ManualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	at   time.Time
	f    func()
	done bool
}

// NewManualClock returns a clock at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t} }

// Now implements Clock.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc implements Clock; f runs inside the Set that passes its time.
func (c *ManualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := t.done
		t.done = true
		return !was
	}
}

// Set moves the clock to t (never back), first running, in time order
// and on the caller's goroutine, every timer due by then, each with the
// clock at its own time.
func (c *ManualClock) Set(t time.Time) {
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		var next *manualTimer
		for _, tm := range c.timers {
			if !tm.done && !tm.at.After(t) {
				next = tm
				break
			}
		}
		if next == nil {
			if t.After(c.now) {
				c.now = t
			}
			live := c.timers[:0]
			for _, tm := range c.timers {
				if !tm.done {
					live = append(live, tm)
				}
			}
			c.timers = live
			c.mu.Unlock()
			return
		}
		next.done = true
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
	}
}
