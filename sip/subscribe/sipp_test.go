package subscribe

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
)

const testPassword = "s3cret-never-logged"

// sipp is one sipp process playing a scenario on a loopback port.
type sipp struct {
	port int
	dir  string
	out  syncBuffer
	done chan struct{}
	err  error
}

// startSipp runs scenario (under testdata) as UAS for calls calls. sipp is
// required: the test fails, never skips, when it is missing.
func startSipp(t *testing.T, scenario string, calls int) *sipp {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipp not found in PATH (%v): apt-get install -y redis-server sip-tester", err)
	}
	sf, err := filepath.Abs(filepath.Join("testdata", scenario))
	if err != nil {
		t.Fatal(err)
	}
	p := &sipp{port: freeUDPPort(t), dir: t.TempDir(), done: make(chan struct{})}
	cmd := exec.Command(bin, "-sf", sf, "-i", "127.0.0.1", "-p", strconv.Itoa(p.port),
		"-m", strconv.Itoa(calls), "-nostdin", "-timeout", "30s", "-trace_err")
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// report is what sipp said, for failure messages.
func (p *sipp) report() string {
	m, _ := filepath.Glob(filepath.Join(p.dir, "*_errors.log"))
	var b strings.Builder
	b.WriteString(p.out.String())
	for _, f := range m {
		data, _ := os.ReadFile(f)
		b.Write(data)
	}
	return b.String()
}

// wait requires sipp to finish its scenario successfully.
func (p *sipp) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("sipp: %v (scenario not completed)\n%s", p.err, p.report())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("sipp did not finish\n%s", p.report())
	}
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

// harness runs a Subscriber against a sipp port and collects what it
// reports.
type harness struct {
	s      *Subscriber
	log    syncBuffer
	ch     chan bridge.Transition
	cancel context.CancelFunc
	done   chan error

	mu  sync.Mutex
	all []bridge.Transition
}

func startSubscriber(t *testing.T, port int, ext string, expiry time.Duration) *harness {
	t.Helper()
	h := &harness{ch: make(chan bridge.Transition, 64), done: make(chan error, 1)}
	s, err := New(Config{
		PBX:        "127.0.0.1:" + strconv.Itoa(port),
		Listen:     "127.0.0.1:0",
		Extensions: []string{ext},
		Expiry:     expiry,
		MinBackoff: 100 * time.Millisecond,
		MaxBackoff: time.Second,
		Username:   "callbridge",
		Password:   testPassword,
		OnTransition: func(tr bridge.Transition) {
			h.mu.Lock()
			h.all = append(h.all, tr)
			h.mu.Unlock()
			h.ch <- tr
		},
		Logger:     zerolog.New(&h.log).Level(zerolog.DebugLevel),
		Registerer: prometheus.NewPedanticRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-h.done
	})
	return h
}

// expect waits for want, in order, ignoring Time (which must be set).
func (h *harness) expect(t *testing.T, p *sipp, want ...bridge.Transition) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for i, w := range want {
		select {
		case g := <-h.ch:
			if g.Time.IsZero() {
				t.Errorf("transition %d: zero time", i)
			}
			g.Time = time.Time{}
			if g != w {
				t.Errorf("transition %d:\n got %+v\nwant %+v", i, g, w)
			}
		case <-p.done:
			t.Fatalf("sipp ended (%v) before transition %d:\n%s\nlog:\n%s", p.err, i, p.report(), h.log.String())
		case <-deadline:
			t.Fatalf("timed out waiting for transition %d:\n%s\nlog:\n%s", i, p.report(), h.log.String())
		}
	}
}

// stop cancels Run and waits for it.
func (h *harness) stop(t *testing.T) {
	t.Helper()
	h.cancel()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func (h *harness) checkMetrics(t *testing.T, checks map[string]float64) {
	t.Helper()
	m := h.s.m
	for name, want := range checks {
		kind, label, _ := strings.Cut(name, ":")
		var c prometheus.Collector
		switch kind {
		case "failures":
			c = m.failures.WithLabelValues(label)
		case "notifies":
			c = m.notifies.WithLabelValues(label)
		case "subscriptions":
			k, r, _ := strings.Cut(label, "/")
			c = m.subscriptions.WithLabelValues(k, r)
		case "resubscribes":
			c = m.resubscribes
		case "transitions":
			c = m.transitions
		case "active":
			c = m.active
		default:
			t.Fatalf("unknown metric %q", name)
		}
		if got := testutil.ToFloat64(c); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", h.log.String())
	}
	if strings.Contains(h.log.String(), testPassword) {
		t.Error("password appears in the log")
	}
}

func (h *harness) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.all)
}

// TestSubscriberAgainstSipp runs the subscriber against sipp playing a
// dialog-event notifier (testdata/uas_dialog_notifier.xml): subscribe,
// NOTIFYs of a call ringing, answered and ended, a stale duplicate, a
// refresh, a refresh answered 481, the new subscription that must follow,
// and the unsubscribe on shutdown.
func TestSubscriberAgainstSipp(t *testing.T) {
	p := startSipp(t, "uas_dialog_notifier.xml", 2)
	h := startSubscriber(t, p.port, "101", 2*time.Second)

	dave := bridge.Transition{User: "101", Direction: bridge.Inbound, RemoteNumber: "0401234567", RemoteName: "Dave Customer"}
	ringing, talking, ended := dave, dave, dave
	ringing.State, talking.State, ended.State = bridge.Ringing, bridge.Talking, bridge.HungUp
	h.expect(t, p, ringing, talking, ended,
		// After the 481 and the new subscription.
		bridge.Transition{User: "101", State: bridge.Ringing, Direction: bridge.Inbound,
			RemoteNumber: "+358509876543", RemoteName: "Erin", CallID: "77f1e2d3@127.0.0.1"})
	h.stop(t)
	p.wait(t)

	// Nothing beyond the four: the stale NOTIFY changed nothing.
	if n := h.count(); n != 4 {
		t.Errorf("%d transitions, want 4", n)
	}
	h.checkMetrics(t, map[string]float64{
		"failures:gone":                1,
		"resubscribes":                 1,
		"subscriptions:initial/ok":     2,
		"subscriptions:refresh/ok":     1,
		"subscriptions:refresh/error":  1,
		"subscriptions:unsubscribe/ok": 1,
		"notifies:stale":               1,
		"notifies:applied":             5,
		"transitions":                  4,
		"active":                       0,
	})
}

// TestSubscriberAuthAndTermination runs the subscriber against a notifier
// (testdata/uas_dialog_auth.xml) that challenges the SUBSCRIBE, checks the
// digest, and later ends the subscription with Subscription-State:
// terminated; the subscriber must subscribe again. A NOTIFY for no
// subscription of ours gets 481.
func TestSubscriberAuthAndTermination(t *testing.T) {
	p := startSipp(t, "uas_dialog_auth.xml", 2)
	h := startSubscriber(t, p.port, "102", 30*time.Second)

	alice := bridge.Transition{User: "102", Direction: bridge.Inbound, RemoteNumber: "101", RemoteName: "Alice"}
	ringing, ended := alice, alice
	ringing.State, ended.State = bridge.Ringing, bridge.HungUp
	h.expect(t, p, ringing, ended)

	// The new subscription after the terminating NOTIFY.
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(h.s.m.subscriptions.WithLabelValues("initial", "ok")) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no new subscription after termination\n%s\nlog:\n%s", p.report(), h.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	if got := sendStrayNotify(t, h.s.Addr().String()); !strings.HasPrefix(got, "SIP/2.0 481 ") {
		t.Errorf("stray NOTIFY answered %q, want 481", got)
	}

	h.stop(t)
	p.wait(t)
	h.checkMetrics(t, map[string]float64{
		"failures:terminated":          1,
		"resubscribes":                 1,
		"subscriptions:initial/ok":     2,
		"subscriptions:unsubscribe/ok": 1,
		"notifies:applied":             2,
		"notifies:unknown":             1,
		"transitions":                  2,
	})
}

// sendStrayNotify sends a NOTIFY for a dialog the subscriber never had and
// returns the status line of the answer.
func sendStrayNotify(t *testing.T, to string) string {
	t.Helper()
	c, err := net.Dial("udp", to)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	la := c.LocalAddr().String()
	msg := "NOTIFY sip:callbridge@" + to + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + la + ";branch=z9hG4bK-stray-1\r\n" +
		"From: <sip:101@127.0.0.1>;tag=stray\r\n" +
		"To: <sip:callbridge@127.0.0.1>;tag=nosuchtag\r\n" +
		"Call-ID: no-such-subscription@127.0.0.1\r\n" +
		"CSeq: 1 NOTIFY\r\n" +
		"Max-Forwards: 70\r\n" +
		"Event: dialog\r\n" +
		"Subscription-State: active;expires=60\r\n" +
		"Content-Length: 0\r\n\r\n"
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no answer to the stray NOTIFY: %v", err)
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	return line
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
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
