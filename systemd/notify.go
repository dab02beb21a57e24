package systemd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Notify sends state ("READY=1", "STATUS=connected", several separated by
// newlines) to the service manager over $NOTIFY_SOCKET. Without
// $NOTIFY_SOCKET — not started by systemd, or not Type=notify — it does
// nothing and returns nil.
func Notify(state string) error {
	return notify(os.Getenv("NOTIFY_SOCKET"), state)
}

func notify(socket, state string) error {
	if socket == "" {
		return nil
	}
	// A name starting with '@' is in the abstract namespace; Go's
	// net package maps the '@' to the leading NUL byte itself.
	if !strings.HasPrefix(socket, "/") && !strings.HasPrefix(socket, "@") {
		return fmt.Errorf("systemd: NOTIFY_SOCKET %q: only unix socket paths and @abstract names are supported", socket)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("systemd: notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("systemd: notify: %w", err)
	}
	return nil
}

// Ready tells systemd that start-up is complete: for Type=notify, the
// service counts as started only now. Send it again after a reload.
func Ready() error { return Notify("READY=1") }

// Stopping tells systemd that shutdown has begun, so that the time until
// exit is counted against TimeoutStopSec rather than seen as a hang.
func Stopping() error { return Notify("STOPPING=1") }

// Reloading tells systemd that a configuration reload has begun; send
// Ready when it is done. MONOTONIC_USEC is included as Type=notify-reload
// requires it.
func Reloading() error {
	state := "RELOADING=1"
	if us, ok := monotonicUsec(); ok {
		state += "\nMONOTONIC_USEC=" + strconv.FormatUint(us, 10)
	}
	return Notify(state)
}

// Status sets the free-form status line `systemctl status` shows.
func Status(s string) error {
	return Notify("STATUS=" + strings.ReplaceAll(s, "\n", " "))
}

// WatchdogInterval is the watchdog timeout systemd set for this process
// (WatchdogSec=), from $WATCHDOG_USEC, and whether the watchdog is on.
// When $WATCHDOG_PID names another process the watchdog is not ours.
func WatchdogInterval() (time.Duration, bool) {
	d, err := watchdogInterval(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
	return d, err == nil && d > 0
}

var errNoWatchdog = errors.New("systemd: watchdog not enabled")

func watchdogInterval(usec, pid string, self int) (time.Duration, error) {
	if usec == "" {
		return 0, errNoWatchdog
	}
	if pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil {
			return 0, fmt.Errorf("systemd: WATCHDOG_PID %q: %w", pid, err)
		}
		if p != self {
			return 0, errNoWatchdog
		}
	}
	us, err := strconv.ParseUint(usec, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("systemd: WATCHDOG_USEC %q: %w", usec, err)
	}
	if us == 0 || us > uint64(time.Duration(1<<62)/time.Microsecond) {
		return 0, fmt.Errorf("systemd: WATCHDOG_USEC %q out of range", usec)
	}
	return time.Duration(us) * time.Microsecond, nil
}
