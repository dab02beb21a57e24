package subscribe

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// strayNotify sends a NOTIFY for no subscription of ours from a socket
// bound to from and returns the answer's status line, "" when nothing
// came back within wait.
func strayNotify(t *testing.T, from net.IP, port int, wait time.Duration) string {
	t.Helper()
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: from}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	la := c.LocalAddr().String()
	msg := "NOTIFY sip:callbridge@127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + la + ";branch=z9hG4bK-stray-" + from.String() + "\r\n" +
		"From: <sip:101@127.0.0.1>;tag=stray\r\n" +
		"To: <sip:callbridge@127.0.0.1>;tag=nosuchtag\r\n" +
		"Call-ID: no-such-subscription-" + from.String() + "\r\n" +
		"CSeq: 1 NOTIFY\r\n" +
		"Max-Forwards: 70\r\n" +
		"Event: dialog\r\n" +
		"Subscription-State: active;expires=60\r\n" +
		"Content-Length: 0\r\n\r\n"
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	return line
}

// TestAllowedSourcesOffLoopback runs the subscriber where the network
// can reach it (the wildcard address) with the PBX's address, 127.0.0.1,
// as the only allowed source: a NOTIFY from 127.0.0.2 (to the listener's
// port on 127.0.0.1) is dropped unanswered and counted; the same NOTIFY
// from 127.0.0.1 is answered (481: no such subscription).
func TestAllowedSourcesOffLoopback(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := New(Config{PBX: "127.0.0.1:9", Listen: "0.0.0.0:0", AllowedSources: pbxOnly,
		Extensions: []string{"101"}, Logger: zerolog.Nop(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	port := s.Addr().(*net.UDPAddr).Port
	// Wait until the subscriber serves: the PBX's NOTIFY is answered.
	var got string
	for deadline := time.Now().Add(10 * time.Second); got == "" && time.Now().Before(deadline); {
		got = strayNotify(t, net.IPv4(127, 0, 0, 1), port, 200*time.Millisecond)
	}
	if !strings.HasPrefix(got, "SIP/2.0 481 ") {
		t.Fatalf("NOTIFY from the PBX answered %q, want 481", got)
	}
	if got := strayNotify(t, net.IPv4(127, 0, 0, 2), port, time.Second); got != "" {
		t.Errorf("NOTIFY from a stranger answered %q, want no answer", got)
	}
	if n := testutil.ToFloat64(s.RefusedCounter()); n != 1 {
		t.Errorf("refused = %v, want 1", n)
	}
}
