package systemd

import (
	"context"
	"os"
	"time"
)

// RunWatchdog keeps systemd's watchdog fed until ctx is done: every half of
// WatchdogInterval it sends WATCHDOG=1, but only when healthy reports true
// (nil healthy means always). An unhealthy daemon stops pinging, so
// systemd kills and restarts it once the interval passes
// (Restart=on-failure). Without a watchdog it returns at once.
func RunWatchdog(ctx context.Context, healthy func() bool) {
	d, ok := WatchdogInterval()
	if !ok {
		return
	}
	socket := os.Getenv("NOTIFY_SOCKET")
	runWatchdog(ctx, d/2, healthy, func() { _ = notify(socket, "WATCHDOG=1") })
}

func runWatchdog(ctx context.Context, every time.Duration, healthy func() bool, ping func()) {
	beat := func() {
		if healthy == nil || healthy() {
			ping()
		}
	}
	beat()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			beat()
		}
	}
}
