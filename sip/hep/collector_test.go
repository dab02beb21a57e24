package hep_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/sip/dialog"
	"github.com/callbridge/callbridge/sip/hep"
	"github.com/callbridge/callbridge/sip/internal/siptest"
	"github.com/callbridge/callbridge/sip/pcap"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// speedup replays recordings this many times faster than recorded.
const speedup = 20

// trackerConfig is what the tests tell the tracker: nothing (the PBX and
// trunks are learnt), except the conference room SIP cannot see.
func trackerConfig(sc string) dialog.Config {
	if sc == "conference_room" {
		return dialog.Config{Conferences: map[string]string{"800": "800", "+35850111800": "800"}}
	}
	return dialog.Config{}
}

// replayed is what `replay --pcap` gives for a recording's hep.pcap.
func replayed(t *testing.T, sc string) []bridge.Activity {
	t.Helper()
	f, err := os.Open(filepath.Join(siptest.Recordings, sc, "hep.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	acts, err := siptest.Activities(siptest.SIPConfig, func(fn func(bridge.Event)) error {
		_, err := pcap.Read(f, trackerConfig(sc), fn)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return acts
}

// TestCollectorMatchesReplay sends each recording's HEP packets to a live
// collector over UDP and over TCP, at their recorded pace sped up, and
// checks the activities against the replay of the same capture (which
// TestFourSources in sip/pcap holds to ARI and scenario.md).
func TestCollectorMatchesReplay(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		for _, sc := range siptest.Scenarios {
			t.Run(transport+"/"+sc, func(t *testing.T) {
				t.Parallel()
				want := replayed(t, sc)
				got := collect(t, transport, sc, len(want))
				for _, d := range siptest.SameActivities(want, got, 500*time.Millisecond) {
					t.Error(d)
				}
			})
		}
	}
}

// live runs a collector until the returned stop is called; acts returns
// the activities so far, sorted.
type live struct {
	c    *hep.Collector
	mu   sync.Mutex
	acts []bridge.Activity
	done chan error
	stop context.CancelFunc
}

func start(t *testing.T, cfg hep.Config) *live {
	t.Helper()
	cfg.Logger = zerolog.Nop()
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	c, err := hep.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l := &live{c: c, done: make(chan error, 1)}
	eng := bridge.New(siptest.SIPConfig)
	ctx, cancel := context.WithCancel(context.Background())
	l.stop = cancel
	go func() {
		l.done <- c.Run(ctx, func(ev bridge.Event) {
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, tr := range eng.Apply(ev) {
				if tr.Activity != nil {
					l.acts = append(l.acts, *tr.Activity)
				}
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-l.done; err != nil {
			t.Error(err)
		}
	})
	return l
}

func (l *live) activities() []bridge.Activity {
	l.mu.Lock()
	defer l.mu.Unlock()
	acts := append([]bridge.Activity(nil), l.acts...)
	siptest.Sort(acts)
	return acts
}

// wait waits up to 10 s for n activities.
func (l *live) wait(n int) []bridge.Activity {
	deadline := time.Now().Add(10 * time.Second)
	for {
		acts := l.activities()
		if len(acts) >= n || time.Now().After(deadline) {
			return acts
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// send writes a recording's HEP packets to conn at the recorded pace,
// sped up.
func send(t *testing.T, conn net.Conn, sc string) {
	t.Helper()
	sendPackets(t, conn, recorded(t, sc))
}

var round int

// sendAgain sends a recording as a new call: its Call-IDs renamed.
func sendAgain(t *testing.T, conn net.Conn, sc string) {
	t.Helper()
	round++
	ds := recorded(t, sc)
	for i, d := range ds {
		p, err := hep.Decode(d.Payload)
		if err != nil {
			t.Fatal(err)
		}
		p.Payload = []byte(renameCallIDs(string(p.Payload), round))
		if ds[i].Payload, err = hep.Encode(p); err != nil {
			t.Fatal(err)
		}
	}
	sendPackets(t, conn, ds)
}

func sendPackets(t *testing.T, conn net.Conn, ds []pcap.Datagram) {
	t.Helper()
	for i, d := range ds {
		if i > 0 {
			time.Sleep(d.Time.Sub(ds[i-1].Time) / speedup)
		}
		if _, err := conn.Write(d.Payload); err != nil {
			t.Fatal(err)
		}
	}
}

func collect(t *testing.T, transport, sc string, want int) []bridge.Activity {
	t.Helper()
	cfg := hep.Config{Dialog: trackerConfig(sc)}
	if transport == "udp" {
		cfg.UDP = []string{"127.0.0.1:0"}
	} else {
		cfg.TCP = []string{"127.0.0.1:0"}
	}
	l := start(t, cfg)
	var addr net.Addr = l.c.UDPAddr()
	if transport == "tcp" {
		addr = l.c.TCPAddr()
	}
	conn, err := net.Dial(transport, addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send(t, conn, sc)
	return l.wait(want)
}

// TestEveryListener: with two UDP and two TCP listen addresses, a call
// sent to each of them is tracked (before, only the first address of each
// transport was opened).
func TestEveryListener(t *testing.T) {
	l := start(t, hep.Config{UDP: []string{"127.0.0.1:0", "127.0.0.1:0"}, TCP: []string{"127.0.0.1:0", "127.0.0.1:0"}})
	if len(l.c.UDPAddrs()) != 2 || len(l.c.TCPAddrs()) != 2 {
		t.Fatalf("listening on %v and %v", l.c.UDPAddrs(), l.c.TCPAddrs())
	}
	targets := []struct {
		network string
		addr    net.Addr
	}{
		{"udp", l.c.UDPAddrs()[0]}, {"udp", l.c.UDPAddrs()[1]},
		{"tcp", l.c.TCPAddrs()[0]}, {"tcp", l.c.TCPAddrs()[1]},
	}
	for i, tg := range targets {
		conn, err := net.Dial(tg.network, tg.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		sendAgain(t, conn, "short_call")
		conn.Close()
		if got := l.wait(i + 1); len(got) != i+1 {
			t.Fatalf("after the call to %s %s: %d activities, want %d", tg.network, tg.addr, len(got), i+1)
		}
	}
	for _, a := range l.activities() {
		if a.User != "101" || a.State != bridge.Connected {
			t.Errorf("activity %+v", a)
		}
	}
}

// TestOpenFailsNamingAddress: an address that cannot be opened fails New
// with the address named, and the listeners already opened are closed.
func TestOpenFailsNamingAddress(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = hep.New(hep.Config{UDP: []string{"127.0.0.1:0"}, TCP: []string{busy.Addr().String()}, Logger: zerolog.Nop()})
	if err == nil || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Fatalf("err = %v, want one naming %s", err, busy.Addr())
	}
}

// dialFrom opens a TCP connection from a given loopback source address.
func dialFrom(t *testing.T, src string, addr net.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	conn, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// closedByPeer waits up to 5 s for the collector to close conn.
func closedByPeer(conn net.Conn) bool {
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	_, err := conn.Read(b[:])
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// TestIdleConnectionsCannotLockAgentsOut: 64 idle TCP connections from one
// address (the attack that used to shut every capture agent out for five
// minutes) leave at most MaxConnsPerSource of them open, and an agent
// connecting after them, from there or elsewhere, gets its call through.
func TestIdleConnectionsCannotLockAgentsOut(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := start(t, hep.Config{TCP: []string{"127.0.0.1:0"}, MaxConnsPerSource: 4, MaxConns: 16, Registerer: reg})
	addr := l.c.TCPAddr()
	var idle []net.Conn
	for range 64 {
		idle = append(idle, dialFrom(t, "127.0.0.1", addr))
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	// The collector closes the older ones as the newer arrive: all but
	// the last four were closed.
	for i, c := range idle[:60] {
		if !closedByPeer(c) {
			t.Fatalf("idle connection %d still open", i)
		}
	}
	for _, src := range []string{"127.0.0.1", "127.0.0.2"} {
		agent := dialFrom(t, src, addr)
		sendAgain(t, agent, "short_call")
		agent.Close()
	}
	if got := l.wait(2); len(got) != 2 {
		t.Fatalf("%d activities after two agents sent a call each, want 2", len(got))
	}
	if n := testutil.ToFloat64(l.c.ClosedCounter("source_limit")); n < 60 {
		t.Errorf("closed for the source limit: %v, want at least 60", n)
	}
}

// TestConnectionLimitAcrossSources: over MaxConns in all, the connection
// silent the longest is closed, whichever source it is from.
func TestConnectionLimitAcrossSources(t *testing.T) {
	l := start(t, hep.Config{TCP: []string{"127.0.0.1:0"}, MaxConnsPerSource: 8, MaxConns: 3})
	addr := l.c.TCPAddr()
	oldest := dialFrom(t, "127.0.0.2", addr)
	defer oldest.Close()
	waitOpen(t, l.c, 1)
	time.Sleep(20 * time.Millisecond) // so the idle times differ
	var rest []net.Conn
	for i, src := range []string{"127.0.0.3", "127.0.0.4"} {
		rest = append(rest, dialFrom(t, src, addr))
		waitOpen(t, l.c, 2+i)
	}
	agent := dialFrom(t, "127.0.0.5", addr)
	defer agent.Close()
	if !closedByPeer(oldest) {
		t.Fatal("the connection silent the longest is still open")
	}
	send(t, agent, "short_call")
	if got := l.wait(1); len(got) != 1 {
		t.Fatalf("%d activities, want 1", len(got))
	}
	for _, c := range rest {
		c.Close()
	}
	if n := testutil.ToFloat64(l.c.ClosedCounter("limit")); n != 1 {
		t.Errorf("closed for the total limit: %v, want 1", n)
	}
}

// waitOpen waits up to 5 s for the collector to hold n TCP connections.
func waitOpen(t *testing.T, c *hep.Collector, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); c.OpenTCP() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d TCP connections open, want %d", c.OpenTCP(), n)
		}
	}
}

// TestIdleTimeout: a connection silent for IdleTimeout is closed; one that
// keeps sending is not.
func TestIdleTimeout(t *testing.T) {
	l := start(t, hep.Config{TCP: []string{"127.0.0.1:0"}, IdleTimeout: time.Second})
	addr := l.c.TCPAddr()
	silent := dialFrom(t, "127.0.0.1", addr)
	defer silent.Close()
	busy := dialFrom(t, "127.0.0.1", addr)
	defer busy.Close()
	opts := recorded(t, "short_call")
	stopBusy := make(chan struct{})
	busyErr := make(chan error, 1)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopBusy:
				busyErr <- nil
				return
			case <-tick.C:
				if _, err := busy.Write(opts[i%len(opts)].Payload); err != nil {
					busyErr <- err
					return
				}
			}
		}
	}()
	if !closedByPeer(silent) {
		t.Fatal("a silent connection outlived the idle timeout")
	}
	time.Sleep(1500 * time.Millisecond) // longer than the timeout, while busy sends
	close(stopBusy)
	if err := <-busyErr; err != nil {
		t.Fatalf("the busy connection was closed: %v", err)
	}
	if n := testutil.ToFloat64(l.c.ClosedCounter("idle")); n != 1 {
		t.Errorf("closed as idle: %v, want 1", n)
	}
}

// TestCollectorSurvivesGarbage: malformed datagrams and a TCP stream that
// loses its framing are counted, and good packets still get through.
func TestCollectorSurvivesGarbage(t *testing.T) {
	l := start(t, hep.Config{UDP: []string{"127.0.0.1:0"}, TCP: []string{"127.0.0.1:0"}, AuthKey: "k"})
	c := l.c
	u, err := net.Dial("udp", c.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for _, b := range [][]byte{nil, []byte("HEP3\x00"), []byte("garbage"), []byte("HEP3\xff\xff")} {
		u.Write(b)
	}
	invite := recorded(t, "inbound_answered")[0].Payload
	u.Write(invite) // no auth key: dropped
	tc, err := net.Dial("tcp", c.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc.Write([]byte("not hep at all"))
	defer tc.Close()

	p, err := hep.Decode(invite)
	if err != nil {
		t.Fatal(err)
	}
	p.AuthKey = "k"
	good, _ := hep.Encode(p)
	u.Write(good)
	p.Time = time.Time{}
	untimed, _ := hep.Encode(p)
	u.Write(untimed)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if testutil.ToFloat64(c.MalformedCounter("auth")) == 1 && testutil.ToFloat64(c.MalformedCounter("frame")) == 1 &&
			testutil.ToFloat64(c.MalformedCounter("hep")) >= 3 && testutil.ToFloat64(c.MalformedCounter("time")) == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, kind := range []string{"hep", "auth", "frame", "time"} {
		if testutil.ToFloat64(c.MalformedCounter(kind)) == 0 {
			t.Errorf("malformed %s not counted", kind)
		}
	}
	if n := testutil.ToFloat64(c.PacketsCounter("udp")); n < 7 {
		t.Errorf("udp packets = %v", n)
	}
}

// TestRefusesWithoutPBX: with no PBX address configured and traffic that
// cannot tell it (every INVITE between the same two parties), the
// collector stops with an error naming the configuration keys.
func TestRefusesWithoutPBX(t *testing.T) {
	c, err := hep.New(hep.Config{UDP: []string{"127.0.0.1:0"}, Logger: zerolog.Nop(), Dialog: dialog.Config{LearnBuffer: 4}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background(), func(bridge.Event) {}) }()
	u, err := net.Dial("udp", c.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	// The first INVITE of each of four calls, all from the trunk to the
	// PBX: two parties, equally in every dialog.
	for i, sc := range []string{"inbound_answered", "inbound_busy", "short_call", "inbound_missed_cancel"} {
		p, err := hep.Decode(recorded(t, sc)[0].Payload)
		if err != nil {
			t.Fatal(err)
		}
		p.Time = time.Unix(1700000000+int64(i), 0)
		b, _ := hep.Encode(p)
		u.Write(b)
	}
	select {
	case err := <-done:
		if !errors.Is(err, dialog.ErrUnknownPBX) || !strings.Contains(err.Error(), "sip.pbx_addresses") {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the collector kept running without knowing the PBX")
	}
}
