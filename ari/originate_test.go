package ari

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/bridge"
)

func labOriginate(t *testing.T, name string) *fakeari.Originate {
	t.Helper()
	o, err := fakeari.LoadOriginate(filepath.Join("..", "testdata", "lab", name))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func originator(t *testing.T, srv *fakeari.Server) *Originator {
	t.Helper()
	o, err := NewOriginator(OriginateConfig{URL: srv.URL(), Username: srv.Username(), Password: srv.Password(), Context: "from-internal"})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// A click-to-dial through ARI, against the fake playing the lab's
// answered originate: the events reach the engine through the live source
// and end as the agent's outbound call to the number, connected.
func TestOriginateEndsInOutboundActivity(t *testing.T) {
	srv, err := fakeari.New(fakeari.Options{Username: "cb", Password: "pw", Endpoints: []string{"PJSIP/102", "PJSIP/pstn"},
		Originate: labOriginate(t, "ari_click_to_dial_answered")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	src, err := NewSource(Config{URL: srv.URL(), Username: "cb", Password: "pw", Logger: zerolog.Nop(), MinBackoff: 5 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng := bridge.New(engineConfig)
	var (
		mu   sync.Mutex
		acts []bridge.Activity
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() {
		ran <- src.Run(ctx, func(ev bridge.Event) {
			for _, tr := range eng.Apply(ev) {
				if tr.Activity != nil {
					mu.Lock()
					acts = append(acts, *tr.Activity)
					mu.Unlock()
				}
			}
		})
	}()
	// Once the websocket is up, the source keeps every event, also
	// those that come while it lists the channels.
	for srv.Clients() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := originator(t, srv).Originate(ctx, "cb-c2d-test", "PJSIP/102", "0509999999", `"0509999999" <0509999999>`); err != nil {
		t.Fatal(err)
	}
	for {
		mu.Lock()
		n := len(acts)
		mu.Unlock()
		if n > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no activity")
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	<-ran
	a := acts[0]
	if len(acts) != 1 || a.CallID != "cb-c2d-test" || a.User != "102" || a.Direction != bridge.Outbound || a.State != bridge.Connected ||
		a.RemoteNumber != "0509999999" || a.Internal || a.TalkSeconds < 3.9 || a.RingSeconds < 3.9 {
		t.Errorf("activities %+v", acts)
	}
}

// Refusals carry Asterisk's reason, explained where it only says
// "Allocation failed"; a refused originate returns at once.
func TestOriginateRefused(t *testing.T) {
	srv, err := fakeari.New(fakeari.Options{Endpoints: []string{"PJSIP/101"}, Offline: []string{"PJSIP/199"},
		Originate: labOriginate(t, "ari_click_to_dial_answered")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	o := originator(t, srv)
	for _, tt := range []struct {
		endpoint string
		status   int
		reason   string
	}{
		{"PJSIP/199", 500, "Allocation failed (endpoint PJSIP/199 is offline: its phone is not registered)"},
		{"PJSIP/999", 500, "Allocation failed (Asterisk has no endpoint PJSIP/999)"},
		{"SIP/101", 500, "Allocation failed"},
		{"101", 400, "Invalid endpoint specified"},
	} {
		err := o.Originate(context.Background(), "cb-1", tt.endpoint, "0401234567", `"0401234567" <0401234567>`)
		var r *Refused
		if !errors.As(err, &r) || r.Status != tt.status || !strings.HasPrefix(r.Reason, tt.reason) {
			t.Errorf("%s: %v", tt.endpoint, err)
		}
		if r != nil && strings.Contains(r.Error(), "0401234567") {
			t.Errorf("%s: the number is in the error: %v", tt.endpoint, r)
		}
	}
	// An unreachable Asterisk: an error, never a hang, without the URL.
	srv.Close()
	err = o.Originate(context.Background(), "cb-2", "PJSIP/101", "0401234567", "x")
	if err == nil || strings.Contains(err.Error(), "0401234567") {
		t.Errorf("unreachable: %v", err)
	}
}
