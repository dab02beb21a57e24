package systemd

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// listen opens a unixgram socket as systemd would and points
// $NOTIFY_SOCKET at it.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	return conn
}

func read(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return string(buf[:n])
}

func socketPath(t *testing.T) string {
	// Unix socket paths are limited to 108 bytes; t.TempDir can be long.
	dir, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "notify")
}

func TestNotify(t *testing.T) {
	tests := []struct {
		name string
		send func() error
		want string
	}{
		{"ready", Ready, "READY=1"},
		{"stopping", Stopping, "STOPPING=1"},
		{"status", func() error { return Status("2 calls\nup") }, "STATUS=2 calls up"},
		{"raw", func() error { return Notify("READY=1\nSTATUS=ok") }, "READY=1\nSTATUS=ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := listen(t, socketPath(t))
			if err := tt.send(); err != nil {
				t.Fatal(err)
			}
			if got := read(t, conn); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReloading(t *testing.T) {
	conn := listen(t, socketPath(t))
	if err := Reloading(); err != nil {
		t.Fatal(err)
	}
	got := read(t, conn)
	first, rest, _ := strings.Cut(got, "\n")
	if first != "RELOADING=1" {
		t.Fatalf("got %q", got)
	}
	if rest != "" {
		us, ok := strings.CutPrefix(rest, "MONOTONIC_USEC=")
		if n, err := strconv.ParseUint(us, 10, 64); !ok || err != nil || n == 0 {
			t.Errorf("bad MONOTONIC_USEC in %q", got)
		}
	}
}

func TestNotifyAbstract(t *testing.T) {
	conn := listen(t, fmt.Sprintf("@callbridge-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := Ready(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, conn); got != "READY=1" {
		t.Errorf("got %q", got)
	}
}

func TestNotifyWithoutSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Ready(); err != nil {
		t.Errorf("Ready() outside systemd = %v, want nil", err)
	}
}

func TestNotifyErrors(t *testing.T) {
	tests := []struct{ name, socket string }{
		{"missing socket", filepath.Join(t.TempDir(), "gone")},
		{"vsock", "vsock:2:1234"},
		{"relative", "notify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", tt.socket)
			if err := Ready(); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestWatchdogInterval(t *testing.T) {
	self := os.Getpid()
	tests := []struct {
		usec, pid string
		want      time.Duration
		ok        bool
	}{
		{"30000000", "", 30 * time.Second, true},
		{"30000000", strconv.Itoa(self), 30 * time.Second, true},
		{"30000000", strconv.Itoa(self + 1), 0, false},
		{"", "", 0, false},
		{"0", "", 0, false},
		{"-5", "", 0, false},
		{"abc", "", 0, false},
		{"99999999999999999999", "", 0, false},
		{"30000000", "x", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.usec+"/"+tt.pid, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", tt.usec)
			t.Setenv("WATCHDOG_PID", tt.pid)
			got, ok := WatchdogInterval()
			if got != tt.want || ok != tt.ok {
				t.Errorf("WatchdogInterval() = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRunWatchdog(t *testing.T) {
	conn := listen(t, socketPath(t))
	t.Setenv("WATCHDOG_USEC", "20000") // 20 ms: pings every 10 ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	var healthy atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		RunWatchdog(ctx, healthy.Load)
	}()

	// Unhealthy: no ping may arrive. A short wait cannot give a false
	// failure, only miss a bug.
	if err := conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := conn.Read(buf); err == nil {
		t.Fatalf("pinged while unhealthy: %q", buf[:n])
	}

	healthy.Store(true)
	for range 3 {
		if got := read(t, conn); got != "WATCHDOG=1" {
			t.Fatalf("got %q", got)
		}
	}
	cancel()
	<-done
}

func TestRunWatchdogOff(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "")
	done := make(chan struct{})
	go func() {
		defer close(done)
		RunWatchdog(context.Background(), nil)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunWatchdog without a watchdog did not return")
	}
}

func TestRunWatchdogNilHealthy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var pings atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		runWatchdog(ctx, time.Millisecond, nil, func() {
			if pings.Add(1) == 3 {
				cancel()
			}
		})
	}()
	<-done
	if pings.Load() < 3 {
		t.Errorf("pings %d", pings.Load())
	}
}
