package hep_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/sip/hep"
	"github.com/callbridge/callbridge/sip/internal/siptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// speedup replays recordings this many times faster than recorded.
const speedup = 20

// TestCollectorMatchesARI sends each recording's HEP packets to a live
// collector over UDP and over TCP, at their recorded pace sped up, and
// checks the activities against the ARI replay.
func TestCollectorMatchesARI(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		for _, sc := range siptest.Scenarios {
			t.Run(transport+"/"+sc, func(t *testing.T) {
				t.Parallel()
				want := siptest.ARIActivities(t, sc)
				got := collect(t, transport, sc, len(want))
				for _, d := range siptest.SameActivities(want, got, 500*time.Millisecond) {
					t.Error(d)
				}
			})
		}
	}
}

func collect(t *testing.T, transport, sc string, want int) []bridge.Activity {
	t.Helper()
	cfg := hep.Config{Logger: zerolog.Nop(), Registerer: prometheus.NewRegistry()}
	if transport == "udp" {
		cfg.UDP = "127.0.0.1:0"
	} else {
		cfg.TCP = "127.0.0.1:0"
	}
	c, err := hep.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		acts []bridge.Activity
	)
	eng := bridge.New(siptest.SIPConfig)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- c.Run(ctx, func(ev bridge.Event) {
			mu.Lock()
			defer mu.Unlock()
			for _, tr := range eng.Apply(ev) {
				if tr.Activity != nil {
					acts = append(acts, *tr.Activity)
				}
			}
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	var addr net.Addr = c.UDPAddr()
	if transport == "tcp" {
		addr = c.TCPAddr()
	}
	conn, err := net.Dial(transport, addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ds := recorded(t, sc)
	for i, d := range ds {
		if i > 0 {
			time.Sleep(d.Time.Sub(ds[i-1].Time) / speedup)
		}
		if _, err := conn.Write(d.Payload); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(acts)
		mu.Unlock()
		if n >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	siptest.Sort(acts)
	return acts
}

// TestCollectorSurvivesGarbage: malformed datagrams and a TCP stream that
// loses its framing are counted, and good packets still get through.
func TestCollectorSurvivesGarbage(t *testing.T) {
	reg := prometheus.NewRegistry()
	c, err := hep.New(hep.Config{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", Logger: zerolog.Nop(), Registerer: reg, AuthKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events int
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- c.Run(ctx, func(bridge.Event) { mu.Lock(); events++; mu.Unlock() })
	}()
	defer func() { cancel(); <-done }()

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
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if testutil.ToFloat64(c.MalformedCounter("auth")) == 1 && testutil.ToFloat64(c.MalformedCounter("frame")) == 1 &&
			testutil.ToFloat64(c.MalformedCounter("hep")) >= 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, kind := range []string{"hep", "auth", "frame"} {
		if testutil.ToFloat64(c.MalformedCounter(kind)) == 0 {
			t.Errorf("malformed %s not counted", kind)
		}
	}
	// The good INVITE was tracked: a pending incoming leg emits nothing
	// until the PBX answers, so look at the tracker's packet count.
	if n := testutil.ToFloat64(c.PacketsCounter("udp")); n < 6 {
		t.Errorf("udp packets = %v", n)
	}
}
