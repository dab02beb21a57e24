package ami_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/ari/ami/fakeami"
	"github.com/callbridge/callbridge/bridge"
)

func labOriginate(t *testing.T, name string) *fakeami.Originate {
	t.Helper()
	o, err := fakeami.LoadOriginate(filepath.Join("..", "..", "testdata", "lab", name))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func originator(t *testing.T, srv *fakeami.Server, timeout time.Duration) *ami.Originator {
	t.Helper()
	var log syncBuffer
	o, err := ami.NewOriginator(ami.OriginateConfig{Conn: clientConfig(srv, &log), Context: "from-internal", RequestTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// A click-to-dial through AMI, against the fake playing the lab's answered
// Originate: the source's session gets the events, and the engine makes
// the agent's outbound call to the number, connected.
func TestOriginateEndsInOutboundActivity(t *testing.T) {
	srv, err := fakeami.Start(fakeami.Config{Username: user, Secret: secret, Endpoints: []string{"102", "pstn"},
		Originate: labOriginate(t, "ami_click_to_dial_answered"), CallerIDs: map[string]string{"102": `"Bob Berg" <102>`}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	eng := bridge.New(bridge.Config{Source: "ami", Trunks: []string{"pstn"}})
	var (
		mu   sync.Mutex
		acts []bridge.Activity
		seen int
	)
	var log syncBuffer
	stop := run(t, clientConfig(srv, &log), nil, func(ev bridge.Event) {
		mu.Lock()
		defer mu.Unlock()
		seen++
		for _, tr := range eng.Apply(ev) {
			if tr.Activity != nil {
				acts = append(acts, *tr.Activity)
			}
		}
	})
	defer stop()
	waitFor(t, "the source's snapshot", func() bool { mu.Lock(); defer mu.Unlock(); return seen > 0 })
	if err := originator(t, srv, 0).Originate(context.Background(), "cb-c2d-ami", "PJSIP/102", "0509999999", `"0509999999" <0509999999>`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the activity", func() bool { mu.Lock(); defer mu.Unlock(); return len(acts) > 0 })
	mu.Lock()
	defer mu.Unlock()
	a := acts[0]
	if len(acts) != 1 || a.CallID != "cb-c2d-ami" || a.User != "102" || a.Direction != bridge.Outbound || a.State != bridge.Connected ||
		a.RemoteNumber != "0509999999" || a.TalkSeconds < 3.9 {
		t.Errorf("activities %+v", acts)
	}
}

// Refusals carry Asterisk's words: the Error response, or the
// OriginateResponse Failure for an endpoint it cannot ring.
func TestOriginateRefused(t *testing.T) {
	srv, err := fakeami.Start(fakeami.Config{Username: user, Secret: secret, Endpoints: []string{"101"}, Offline: []string{"PJSIP/199"},
		Originate: labOriginate(t, "ami_click_to_dial_answered")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	o := originator(t, srv, 0)
	for _, tt := range []struct{ endpoint, reason string }{
		{"PJSIP/199", "the channel could not be created: no such endpoint, or its phone is not registered (OriginateResponse Reason 0)"},
		{"PJSIP/999", "the channel could not be created"},
		{"101", "Invalid channel"},
	} {
		err := o.Originate(context.Background(), "cb-1", tt.endpoint, "0401234567", `"0401234567" <0401234567>`)
		var r *ami.Refused
		if !errors.As(err, &r) || !strings.HasPrefix(r.Reason, tt.reason) {
			t.Errorf("%s: %v", tt.endpoint, err)
		}
	}
	bad, err := ami.NewOriginator(ami.OriginateConfig{Conn: clientConfig(srv, &syncBuffer{}), Context: "no-such-context"})
	if err != nil {
		t.Fatal(err)
	}
	var r *ami.Refused
	if err := bad.Originate(context.Background(), "cb-2", "PJSIP/101", "0401234567", "x"); !errors.As(err, &r) || r.Reason != "Extension does not exist." {
		t.Errorf("bad context: %v", err)
	}
	denied, err := fakeami.Start(fakeami.Config{Username: user, Secret: secret, Endpoints: []string{"101"}, NoOriginate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer denied.Close()
	if err := originator(t, denied, 0).Originate(context.Background(), "cb-3", "PJSIP/101", "0401234567", "x"); !errors.As(err, &r) || !strings.Contains(r.Reason, "write = originate") {
		t.Errorf("no write permission: %v", err)
	}
}

// A manager that never answers: an error within the request timeout,
// never a hang.
func TestOriginateNeverHangs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			c.Write([]byte("Asterisk Call Manager/11.0.0\r\n")) // and then nothing
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	o, err := ami.NewOriginator(ami.OriginateConfig{Conn: ami.Config{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Username: user, Secret: secret},
		Context: "from-internal", RequestTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- o.Originate(context.Background(), "cb-4", "PJSIP/101", "0401234567", "x") }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "did not confirm the call within 300ms") {
			t.Errorf("error %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Originate hangs")
	}
}
