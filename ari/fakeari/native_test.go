//go:build !race

// ari/v5's native client has a data race of its own: Client.Close and its
// websocket loop both write the unguarded "connected" flag. The race detector
// would fail this test for it, so it runs only in builds without -race.

package fakeari

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
)

// TestNativeClient is the point of the package: ari/v5's own client
// connects, reads every recorded event and lists the REST resources.
func TestNativeClient(t *testing.T) {
	t.Cleanup(http.DefaultTransport.(*http.Transport).CloseIdleConnections)
	for _, name := range scenarios(t) {
		t.Run(name, func(t *testing.T) {
			rec := load(t, name)
			s := start(t, Options{Username: "bridge", Password: "bridge-secret", Recordings: []Recording{rec}})
			cl, err := native.Connect(&native.Options{
				Application:  "callbridge",
				URL:          s.URL(),
				WebsocketURL: strings.Replace(s.URL(), "http", "ws", 1) + "/events",
				Username:     "bridge",
				Password:     "bridge-secret",
				SubscribeAll: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			sub := cl.Bus().Subscribe(nil, ari.Events.All)
			defer sub.Cancel()

			// ari/v5's bus passes on only events with a key.
			var want []string
			// A parking lot's holding bridge outlives the calls parked in
			// it: Asterisk destroys only the bridges the recording says.
			var leftBridges []string
			for _, l := range rec.Lines {
				e, err := ari.DecodeEvent(l)
				if err == nil && len(e.Keys()) > 0 {
					want = append(want, e.GetType())
				}
				switch e := e.(type) {
				case *ari.BridgeCreated:
					leftBridges = append(leftBridges, e.Bridge.ID)
				case *ari.BridgeDestroyed:
					leftBridges = slices.DeleteFunc(leftBridges, func(id string) bool { return id == e.Bridge.ID })
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.Play(ctx) }()
			// ari/v5's bus never blocks: a subscriber more than 100 events
			// behind loses events (stdbus "default: // never block"). So
			// all events must arrive only where a recording is shorter
			// than that; longer ones must arrive in order, some perhaps
			// missing on a loaded machine.
			var got []string
			idle := time.NewTimer(time.Hour)
		read:
			for len(got) < len(want) {
				select {
				case e := <-sub.Events():
					got = append(got, e.GetType())
				case err := <-done:
					if err != nil {
						t.Fatal(err)
					}
					done = nil
					idle.Reset(500 * time.Millisecond)
				case <-idle.C:
					break read
				case <-ctx.Done():
					t.Fatalf("got %d of %d events", len(got), len(want))
				}
			}
			if done != nil {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			switch {
			case len(want) <= 100 && !slices.Equal(got, want):
				t.Fatalf("events differ:\n got %v\nwant %v", got, want)
			case !isSubsequence(got, want) || len(got) == 0:
				t.Fatalf("events out of order:\n got %v\nwant %v", got, want)
			case len(got) < len(want):
				t.Logf("ari/v5's bus dropped %d of %d events", len(want)-len(got), len(want))
			}

			info, err := cl.Asterisk().Info(nil)
			if err != nil {
				t.Fatal(err)
			}
			if info.SystemInfo.EntityID != "02:fc:00:00:00:01" || info.SystemInfo.Version != "22.10.1" {
				t.Errorf("info = %+v", info.SystemInfo)
			}
			chans, err := cl.Channel().List(nil)
			if err != nil || len(chans) != 0 {
				t.Errorf("channels after the call = %v, %v; want none", chans, err)
			}
			bridges, err := cl.Bridge().List(nil)
			var gotBridges []string
			for _, b := range bridges {
				gotBridges = append(gotBridges, b.ID)
			}
			slices.Sort(gotBridges)
			slices.Sort(leftBridges)
			if err != nil || !slices.Equal(gotBridges, leftBridges) {
				t.Errorf("bridges after the call = %v, %v; want %v", gotBridges, err, leftBridges)
			}
			eps, err := cl.Endpoint().List(nil)
			if err != nil || len(eps) == 0 {
				t.Errorf("endpoints = %v, %v; want those of the call", eps, err)
			}
		})
	}
}

func isSubsequence(sub, s []string) bool {
	i := 0
	for _, v := range s {
		if i < len(sub) && sub[i] == v {
			i++
		}
	}
	return i == len(sub)
}
