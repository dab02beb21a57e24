package hep_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/internal/netallow"
	"github.com/callbridge/callbridge/sip/hep"
)

var (
	agent    = net.IPv4(127, 0, 0, 1) // the allowed capture agent
	stranger = net.IPv4(127, 0, 0, 2) // another host, as far as the listener can tell
)

func allow(t *testing.T, cidrs ...string) netallow.List {
	t.Helper()
	l, err := netallow.Parse(cidrs)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// connectFrom opens a connection to the listener's port on 127.0.0.1 from a
// local address of its own (on Linux every 127/8 address is the host's).
func connectFrom(t *testing.T, network string, from net.IP, to net.Addr) net.Conn {
	t.Helper()
	_, port, _ := net.SplitHostPort(to.String())
	d := net.Dialer{Timeout: 5 * time.Second}
	if network == "udp" {
		d.LocalAddr = &net.UDPAddr{IP: from}
	} else {
		d.LocalAddr = &net.TCPAddr{IP: from}
	}
	conn, err := d.Dial(network, net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func waitCount(t *testing.T, what string, get func() float64, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for get() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", what, get(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAllowedSourcesOffLoopback listens where the network can reach it
// (the wildcard address, on UDP and TCP) with 127.0.0.1 as the only
// allowed capture agent: a call sent from 127.0.0.2 (to the listener,
// 127.0.0.1's port) is refused and counted, packet by packet over UDP and
// as a closed connection over TCP, and gives no activity; the same call
// from 127.0.0.1 is tracked.
func TestAllowedSourcesOffLoopback(t *testing.T) {
	l := start(t, hep.Config{UDP: []string{"0.0.0.0:0"}, TCP: []string{"0.0.0.0:0"}, AllowedSources: allow(t, "127.0.0.1/32")})
	n := float64(len(recorded(t, "short_call")))

	sendAgain(t, connectFrom(t, "udp", stranger, l.c.UDPAddr()), "short_call")
	waitCount(t, "refused udp", func() float64 { return testutil.ToFloat64(l.c.RefusedCounter("udp")) }, n)
	sendAgain(t, connectFrom(t, "udp", agent, l.c.UDPAddr()), "short_call")
	if acts := l.wait(1); len(acts) != 1 {
		t.Fatalf("udp: %d activities, want the allowed agent's one", len(acts))
	}

	if !closedByPeer(connectFrom(t, "tcp", stranger, l.c.TCPAddr())) {
		t.Fatal("tcp from a stranger: the connection stayed open")
	}
	waitCount(t, "refused tcp", func() float64 { return testutil.ToFloat64(l.c.RefusedCounter("tcp")) }, 1)
	sendAgain(t, connectFrom(t, "tcp", agent, l.c.TCPAddr()), "short_call")
	if acts := l.wait(2); len(acts) != 2 {
		t.Fatalf("tcp: %d activities, want 2", len(acts))
	}
	time.Sleep(100 * time.Millisecond)
	if got := testutil.ToFloat64(l.c.RefusedCounter("udp")); got != n {
		t.Errorf("refused udp = %v, want %v (the stranger's packets only)", got, n)
	}
	if acts := l.activities(); len(acts) != 2 {
		t.Errorf("%d activities, want 2", len(acts))
	}
}

// TestOffLoopbackNeedsSources: a listener off loopback without allowed
// sources is refused, naming it; on loopback it hears the host only and
// takes every local sender.
func TestOffLoopbackNeedsSources(t *testing.T) {
	for _, cfg := range []hep.Config{{UDP: []string{"0.0.0.0:0"}}, {UDP: []string{"127.0.0.1:0"}, TCP: []string{":0"}}} {
		cfg.Logger = zerolog.Nop()
		if c, err := hep.New(cfg); err == nil {
			c.Close()
			t.Errorf("%v %v: accepted without allowed sources", cfg.UDP, cfg.TCP)
		} else if !strings.Contains(err.Error(), "off loopback") {
			t.Errorf("error %q does not say why", err)
		}
	}
	l := start(t, hep.Config{UDP: []string{"127.0.0.1:0"}})
	sendAgain(t, connectFrom(t, "udp", stranger, l.c.UDPAddr()), "short_call")
	if acts := l.wait(1); len(acts) != 1 {
		t.Fatalf("loopback listener: %d activities from a local sender, want 1", len(acts))
	}
}
