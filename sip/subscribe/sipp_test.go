package subscribe

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
)

// sippBinary finds sipp or fails the test: the integration test is part of
// the suite, not optional.
func sippBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipp not found in PATH (%v): apt-get install -y redis-server sip-tester", err)
	}
	return p
}

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

type collector struct {
	mu  sync.Mutex
	trs []bridge.Transition
	ch  chan bridge.Transition
}

func (c *collector) add(tr bridge.Transition) {
	c.mu.Lock()
	c.trs = append(c.trs, tr)
	c.mu.Unlock()
	c.ch <- tr
}

// TestSubscriberAgainstSipp runs the subscriber against sipp playing a
// dialog-event notifier (testdata/uas_dialog_notifier.xml): subscribe,
// NOTIFYs of a call ringing, answered and ended, a stale duplicate, a
// refresh, a refresh answered 481, the new subscription that must follow,
// and the unsubscribe on shutdown.
func TestSubscriberAgainstSipp(t *testing.T) {
	bin := sippBinary(t)
	scenario, err := filepath.Abs("testdata/uas_dialog_notifier.xml")
	if err != nil {
		t.Fatal(err)
	}
	port := freeUDPPort(t)
	dir := t.TempDir()
	var sippOut bytes.Buffer
	cmd := exec.Command(bin, "-sf", scenario, "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-m", "2", "-nostdin", "-timeout", "30s", "-trace_err")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &sippOut, &sippOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var sippErr error
	sippDone := make(chan struct{})
	go func() { sippErr = cmd.Wait(); close(sippDone) }()
	defer func() {
		select {
		case <-sippDone:
		default:
			cmd.Process.Kill()
			<-sippDone
		}
	}()

	col := &collector{ch: make(chan bridge.Transition, 16)}
	reg := prometheus.NewPedanticRegistry()
	var logBuf syncBuffer
	s, err := New(Config{
		PBX:          "127.0.0.1:" + strconv.Itoa(port),
		Listen:       "127.0.0.1:0",
		Extensions:   []string{"101"},
		Expiry:       2 * time.Second,
		MinBackoff:   100 * time.Millisecond,
		MaxBackoff:   time.Second,
		Username:     "callbridge",
		Password:     "s3cret-never-logged",
		OnTransition: col.add,
		Logger:       zerolog.New(&logBuf).Level(zerolog.DebugLevel),
		Registerer:   reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(ctx) }()

	want := []bridge.Transition{
		{User: "101", State: bridge.Ringing, Direction: bridge.Inbound, RemoteNumber: "0401234567", RemoteName: "Dave Customer"},
		{User: "101", State: bridge.Talking, Direction: bridge.Inbound, RemoteNumber: "0401234567", RemoteName: "Dave Customer"},
		{User: "101", State: bridge.HungUp, Direction: bridge.Inbound, RemoteNumber: "0401234567", RemoteName: "Dave Customer"},
		// After the 481 and the new subscription.
		{User: "101", State: bridge.Ringing, Direction: bridge.Inbound, RemoteNumber: "+358509876543", RemoteName: "Erin", CallID: "77f1e2d3@127.0.0.1"},
	}
	deadline := time.After(15 * time.Second)
	var got []bridge.Transition
	for len(got) < len(want) {
		select {
		case tr := <-col.ch:
			got = append(got, tr)
		case <-sippDone:
			t.Fatalf("sipp ended early (%v) after %d transitions:\n%s\n%s", sippErr, len(got), sippOut.String(), sippErrors(dir))
		case <-deadline:
			t.Fatalf("timed out after %d transitions %+v:\n%s\n%s\nlog:\n%s", len(got), got, sippOut.String(), sippErrors(dir), logBuf.String())
		}
	}
	for i := range want {
		g := got[i]
		if g.Time.IsZero() {
			t.Errorf("transition %d: zero time", i)
		}
		g.Time = time.Time{}
		if g != want[i] {
			t.Errorf("transition %d:\n got %+v\nwant %+v", i, g, want[i])
		}
	}

	cancel()
	select {
	case err := <-runDone:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	select {
	case <-sippDone:
		if sippErr != nil {
			t.Fatalf("sipp: %v (scenario not completed)\n%s\n%s", sippErr, sippOut.String(), sippErrors(dir))
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("sipp did not finish\n%s", sippErrors(dir))
	}

	// No transition beyond the four: the stale NOTIFY changed nothing.
	col.mu.Lock()
	if n := len(col.trs); n != len(want) {
		t.Errorf("%d transitions, want %d: %+v", n, len(want), col.trs)
	}
	col.mu.Unlock()

	checks := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"gone failures", s.m.failures.WithLabelValues("gone"), 1},
		{"resubscribes", s.m.resubscribes, 1},
		{"initial ok", s.m.subscriptions.WithLabelValues("initial", "ok"), 2},
		{"refresh ok", s.m.subscriptions.WithLabelValues("refresh", "ok"), 1},
		{"refresh error", s.m.subscriptions.WithLabelValues("refresh", "error"), 1},
		{"unsubscribe ok", s.m.subscriptions.WithLabelValues("unsubscribe", "ok"), 1},
		{"stale notifies", s.m.notifies.WithLabelValues("stale"), 1},
		{"applied notifies", s.m.notifies.WithLabelValues("applied"), 5},
		{"transitions", s.m.transitions, 4},
	}
	for _, c := range checks {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logBuf.String())
	}
	if bytes.Contains([]byte(logBuf.String()), []byte("s3cret")) {
		t.Error("password appears in the log")
	}
}

func sippErrors(dir string) string {
	m, _ := filepath.Glob(filepath.Join(dir, "*_errors.log"))
	var b bytes.Buffer
	for _, f := range m {
		data, _ := os.ReadFile(f)
		b.Write(data)
	}
	return b.String()
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
