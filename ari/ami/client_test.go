package ami_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/ari/ami/fakeami"
	"github.com/callbridge/callbridge/bridge"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	user   = "bridge"
	secret = "s3cret-Never-Logged"
)

func recording(t testing.TB, scenario string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(recordings, scenario, "ami.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syncBuffer is a log sink safe for the client's goroutine and the test.
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

// collector gathers what the client delivers.
type collector struct {
	mu     sync.Mutex
	events []bridge.Event
	snaps  []bridge.Event
}

func (c *collector) out(ev bridge.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.Kind == bridge.Snapshot {
		c.snaps = append(c.snaps, ev)
		return
	}
	c.events = append(c.events, ev)
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}

// run starts a client against srv and returns a stop function that ends it
// and waits for Run to return.
func run(t *testing.T, cfg ami.Config, reg prometheus.Registerer, out func(bridge.Event)) (stop func()) {
	t.Helper()
	cl, err := ami.New(cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- cl.Run(ctx, out) }()
	return func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
	}
}

func clientConfig(srv *fakeami.Server, log *syncBuffer) ami.Config {
	return ami.Config{
		Host: srv.Host(), Port: srv.Port(), Username: user, Secret: secret,
		Logger:     zerolog.New(log),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 80 * time.Millisecond,
		DialTimeout: 2 * time.Second, PingInterval: time.Second,
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// eventsBefore counts the events (of every kind, as the fake counts them)
// up to and including the n-th one named name.
func eventsBefore(t *testing.T, rec []byte, name string, n int) int {
	t.Helper()
	count, seen := 0, 0
	for _, blk := range strings.Split(string(rec), "\r\n\r\n") {
		blk = strings.TrimLeft(blk, "\r\n")
		if !strings.HasPrefix(blk, "Event: ") {
			continue
		}
		count++
		if strings.HasPrefix(blk, "Event: "+name+"\r\n") {
			if seen++; seen == n {
				return count
			}
		}
	}
	t.Fatalf("no %d-th %s", n, name)
	return 0
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestClientReplaysEveryRecording: live, the client delivers exactly what a
// replay of the same stream gives, after one (empty) snapshot.
func TestClientReplaysEveryRecording(t *testing.T) {
	for _, sc := range scenarios(t) {
		t.Run(sc, func(t *testing.T) {
			want := amiEvents(t, sc)
			srv, err := fakeami.Start(fakeami.Config{Recording: recording(t, sc), Username: user, Secret: secret})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			var log syncBuffer
			var got collector
			stop := run(t, clientConfig(srv, &log), nil, got.out)
			waitFor(t, "all events", func() bool { return got.count() >= len(want) })
			stop()
			if !reflect.DeepEqual(got.events, want) {
				t.Errorf("live events differ from the replay (%d vs %d)", len(got.events), len(want))
			}
			if len(got.snaps) != 1 {
				t.Errorf("%d snapshots, want 1", len(got.snaps))
			}
		})
	}
}

// TestClientReconnectMidCall drops the connection in the middle of a call:
// the client reconnects (through refused attempts), resyncs, and in the end
// has delivered every event exactly once, with a snapshot that holds the
// call's channels at the moment of the gap.
func TestClientReconnectMidCall(t *testing.T) {
	const sc = "inbound_answered"
	rec := recording(t, sc)
	want := amiEvents(t, sc)
	for _, md5 := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "md5"}[md5], func(t *testing.T) {
			srv, err := fakeami.Start(fakeami.Config{
				Recording: rec, Username: user, Secret: secret,
				// After both parties entered the bridge: mid-talk.
				DropAfter:       eventsBefore(t, rec, "BridgeEnter", 2),
				RefuseAfterDrop: 2,
				HoldUntilSync:   true,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			var log syncBuffer
			var got collector
			reg := prometheus.NewRegistry()
			cfg := clientConfig(srv, &log)
			cfg.MD5 = md5
			stop := run(t, cfg, reg, got.out)
			waitFor(t, "all events", func() bool { return got.count() >= len(want) })
			stop()

			if !reflect.DeepEqual(got.events, want) {
				t.Fatalf("events lost or doubled across the reconnect: got %d, want %d", len(got.events), len(want))
			}
			if len(got.snaps) != 2 {
				t.Fatalf("%d snapshots, want one per connection (2)", len(got.snaps))
			}
			snap := got.snaps[1]
			var lastBefore bridge.Event
			for _, ev := range want {
				if ev.Kind == bridge.BridgeEnter {
					lastBefore = ev
				}
			}
			if !snap.Time.Equal(lastBefore.Time) {
				t.Errorf("snapshot time %v, want the last event before the gap %v", snap.Time, lastBefore.Time)
			}
			if len(snap.Channels) != 2 {
				t.Fatalf("snapshot has %d channels, want 2: %+v", len(snap.Channels), snap.Channels)
			}
			for _, ch := range snap.Channels {
				if ch.Bridge != lastBefore.Bridge || ch.State != bridge.StateUp || ch.LinkedID == "" {
					t.Errorf("snapshot channel %+v: want Up in bridge %s", ch, lastBefore.Bridge)
				}
			}
			if n := counter(t, reg, "callbridge_ami_reconnects_total"); n != 3 {
				t.Errorf("reconnects %v, want 3 (the drop and two refusals)", n)
			}
			if got, want := activities("ami", append(got.snaps[:1:1], got.events...)), activities("ami", want); !reflect.DeepEqual(got, want) {
				t.Errorf("activities differ from an uninterrupted replay:\n got %s\nwant %s", brief(got), brief(want))
			}
			if strings.Contains(log.String(), secret) {
				t.Error("the secret appears in the log")
			}
		})
	}
}

// TestRunBatchesAcrossReconnect: over a real connection that drops mid-call,
// RunBatches hands on what Run does, and no batch spans two connections:
// what the first brought is ended before the reconnect's snapshot.
func TestRunBatchesAcrossReconnect(t *testing.T) {
	const sc = "inbound_answered"
	rec := recording(t, sc)
	want := amiEvents(t, sc)
	srv, err := fakeami.Start(fakeami.Config{
		Recording: rec, Username: user, Secret: secret,
		DropAfter: eventsBefore(t, rec, "BridgeEnter", 2), RefuseAfterDrop: 1, HoldUntilSync: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var log syncBuffer
	cl, err := ami.New(clientConfig(srv, &log), nil)
	if err != nil {
		t.Fatal(err)
	}
	var (
		got   collector
		mu    sync.Mutex
		trail []string // "event", "snapshot" and "ready", in order
	)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- cl.RunBatches(ctx, func(ev bridge.Event) {
			got.out(ev)
			mu.Lock()
			defer mu.Unlock()
			trail = append(trail, map[bool]string{false: "event", true: "snapshot"}[ev.Kind == bridge.Snapshot])
		}, func() {
			mu.Lock()
			defer mu.Unlock()
			trail = append(trail, "ready")
		})
	}()
	waitFor(t, "all events in an ended batch", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got.count() >= len(want) && trail[len(trail)-1] == "ready"
	})
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("RunBatches returned %v after cancel, want nil", err)
	}
	if !reflect.DeepEqual(got.events, want) {
		t.Fatalf("events lost or doubled: got %d, want %d", len(got.events), len(want))
	}
	snaps := 0
	for i, what := range trail {
		if what != "snapshot" {
			continue
		}
		if snaps++; snaps > 1 && trail[i-1] != "ready" {
			t.Errorf("snapshot %d follows %q: the last connection's batch was left open", snaps, trail[i-1])
		}
	}
	if snaps != 2 {
		t.Errorf("%d snapshots, want one per connection (2)", snaps)
	}
}

// TestClientResyncAfterGap: events that happen while the client is away
// (the answer and the bridging) are never seen, but the snapshot reports the
// channels Up and bridged, which is what the engine needs to finish the call.
func TestClientResyncAfterGap(t *testing.T) {
	const sc = "inbound_answered"
	rec := recording(t, sc)
	all := amiEvents(t, sc)
	dropAt := eventsBefore(t, rec, "DialState", 1)
	gapEnd := eventsBefore(t, rec, "BridgeEnter", 2)
	srv, err := fakeami.Start(fakeami.Config{
		Recording: rec, Username: user, Secret: secret,
		DropAfter: dropAt, Gap: gapEnd - dropAt, HoldUntilSync: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var log syncBuffer
	var got collector
	stop := run(t, clientConfig(srv, &log), nil, got.out)
	<-srv.Done()
	last := all[len(all)-1]
	waitFor(t, "the last event", func() bool {
		got.mu.Lock()
		defer got.mu.Unlock()
		return len(got.events) > 0 && reflect.DeepEqual(got.events[len(got.events)-1], last)
	})
	stop()
	if len(got.snaps) != 2 {
		t.Fatalf("%d snapshots, want 2", len(got.snaps))
	}
	snap := got.snaps[1]
	if len(snap.Channels) != 2 {
		t.Fatalf("snapshot has %d channels, want 2", len(snap.Channels))
	}
	for _, ch := range snap.Channels {
		if ch.Bridge == "" || ch.State != bridge.StateUp {
			t.Errorf("snapshot channel %s: state %v bridge %q, want Up and bridged", ch.Name, ch.State, ch.Bridge)
		}
	}
	for _, ev := range got.events {
		if ev.Kind == bridge.BridgeEnter {
			t.Errorf("a BridgeEnter of the gap was delivered: %+v", ev)
		}
	}
	// Whether the engine makes a connected call of it is the engine's
	// business; that it gives the same activity as without the gap is the
	// contract.
	gotA, wantA := activities("ami", append(got.snaps, got.events...)), activities("ami", all)
	if len(gotA) != len(wantA) {
		t.Fatalf("activities after the gap: %s, without it: %s", brief(gotA), brief(wantA))
	}
	for i := range wantA {
		if gotA[i].User != wantA[i].User || gotA[i].State != wantA[i].State || gotA[i].Direction != wantA[i].Direction {
			t.Errorf("after the gap %s, without it %s", brief(gotA[i:i+1]), brief(wantA[i:i+1]))
		}
	}
}

// TestClientLoginFailure: a refused login is a clear, logged error, retried
// with growing waits, and the secret is in no log line; once the PBX
// accepts the secret the client carries on.
func TestClientLoginFailure(t *testing.T) {
	for _, md5 := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "md5"}[md5], func(t *testing.T) {
			const sc = "short_call"
			want := amiEvents(t, sc)
			srv, err := fakeami.Start(fakeami.Config{Recording: recording(t, sc), Username: user, Secret: "another-secret"})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			var log syncBuffer
			var got collector
			reg := prometheus.NewRegistry()
			cfg := clientConfig(srv, &log)
			cfg.MD5 = md5
			stop := run(t, cfg, reg, got.out)
			waitFor(t, "four refused logins", func() bool { _, _, f := srv.Stats(); return f >= 4 })
			srv.SetSecret(secret)
			waitFor(t, "all events", func() bool { return got.count() >= len(want) })
			stop()

			out := log.String()
			if strings.Contains(out, secret) || strings.Contains(out, "another-secret") {
				t.Errorf("a secret appears in the log:\n%s", out)
			}
			if !strings.Contains(out, "login refused") || !strings.Contains(out, "Authentication failed") {
				t.Errorf("the log does not say the login was refused:\n%s", out)
			}
			if n := counter(t, reg, "callbridge_ami_login_failures_total"); n < 4 {
				t.Errorf("login failures counted %v, want >= 4", n)
			}
			// The waits between refused attempts never shrink while the
			// failures go on (jitter stays within the doubling).
			var waits []float64
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var rec struct {
					Msg     string  `json:"message"`
					RetryIn float64 `json:"retry_in"`
					Err     string  `json:"error"`
				}
				if err := json.Unmarshal([]byte(line), &rec); err == nil && strings.Contains(rec.Err, "login refused") {
					waits = append(waits, rec.RetryIn)
				}
			}
			if len(waits) < 4 {
				t.Fatalf("%d refused-login log lines, want >= 4", len(waits))
			}
			for i := 1; i < 4; i++ {
				if waits[i] < waits[i-1] {
					t.Errorf("backoff shrank: %v", waits)
				}
			}
			if !reflect.DeepEqual(got.events, want) {
				t.Errorf("after the secret was fixed: %d events, want %d", len(got.events), len(want))
			}
		})
	}
}

// TestClientDetectsSilence: a PBX that stops answering pings is given up on
// and dialled again.
func TestClientDetectsSilence(t *testing.T) {
	srv, err := fakeami.Start(fakeami.Config{Username: user, Secret: secret, IgnorePing: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var log syncBuffer
	cfg := clientConfig(srv, &log)
	cfg.PingInterval = 20 * time.Millisecond
	stop := run(t, cfg, nil, func(bridge.Event) {})
	waitFor(t, "a second login", func() bool { _, n, _ := srv.Stats(); return n >= 2 })
	stop()
	if !strings.Contains(log.String(), "nothing received") {
		t.Errorf("the log does not say why the connection was given up:\n%s", log.String())
	}
}

// TestClientKeepsAQuietPBX: a PBX that sends no events but answers its
// pings keeps its one connection: the answers count as something received.
func TestClientKeepsAQuietPBX(t *testing.T) {
	srv, err := fakeami.Start(fakeami.Config{Username: user, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var log syncBuffer
	cfg := clientConfig(srv, &log)
	cfg.PingInterval = 20 * time.Millisecond // silence is given up on after two
	stop := run(t, cfg, nil, func(bridge.Event) {})
	waitFor(t, "ten pings answered", func() bool { return srv.Pongs() >= 10 })
	stop()
	if _, n, _ := srv.Stats(); n != 1 {
		t.Errorf("%d logins while the PBX answered every ping, want 1:\n%s", n, log.String())
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ami.Config
		want string
	}{
		{"no host", ami.Config{Username: "u"}, "host: required"},
		{"no user", ami.Config{Host: "h"}, "username: required"},
		{"injected user", ami.Config{Host: "h", Username: "u\r\nAction: Originate"}, "username: must not"},
		{"injected secret", ami.Config{Host: "h", Username: "u", Secret: "x\ny"}, "secret: must not"},
		{"bad port", ami.Config{Host: "h", Username: "u", Port: 70000}, "port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ami.New(tc.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want it to mention %q", err, tc.want)
			}
			if tc.cfg.Secret != "" && strings.Contains(err.Error(), tc.cfg.Secret) {
				t.Errorf("the secret is in the error")
			}
		})
	}
}

// TestMetricsShareRegistry: a second client on one registry (after a
// reload) shares the counters instead of failing.
func TestMetricsShareRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	for range 2 {
		if _, err := ami.New(ami.Config{Host: "h", Username: "u"}, reg); err != nil {
			t.Fatal(err)
		}
	}
}

// TestClientAdoptsCallsInProgress: callbridge starts (or restarts without
// its journal) while a call is up; the CoreShowChannels list (Duration,
// Application, BridgeId) read against Asterisk's own clock (its Ping's
// Timestamp) is all it knows. The users still in the call are adopted with
// the outcome, direction and remote party of the uninterrupted stream,
// answered no earlier than the real answer (AMI reports no bridge times:
// the listing bounds it) and talking no longer than they did.
func TestClientAdoptsCallsInProgress(t *testing.T) {
	tests := []struct {
		name, sc, event string
		n               int
	}{
		{"mid-talk, inbound", "inbound_answered", "BridgeEnter", 2},
		{"mid-talk, outbound", "outbound_answered", "BridgeEnter", 2},
		{"mid-ring, ring group", "ring_group", "DialState", 2},
		{"mid-talk, click-to-dial", "click_to_dial_originate", "BridgeEnter", 2},
		{"mid-transfer, consultation answered", "attended_transfer", "BridgeEnter", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := recording(t, tt.sc)
			all := amiEvents(t, tt.sc)
			srv, err := fakeami.Start(fakeami.Config{
				Recording: rec, Username: user, Secret: secret,
				DropAfter: eventsBefore(t, rec, tt.event, tt.n), HoldUntilSync: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			var log syncBuffer
			var got collector
			stop := run(t, clientConfig(srv, &log), nil, got.out)
			waitFor(t, "all events", func() bool { return got.count() >= len(all) })
			stop()
			if len(got.snaps) != 2 || len(got.snaps[1].Channels) == 0 {
				t.Fatalf("snapshots %+v, want a second one listing the call", got.snaps)
			}
			snap := got.snaps[1]
			if snap.Listed.Before(snap.Time) {
				t.Errorf("listed %v, before the last event seen %v: not Asterisk's clock", snap.Listed, snap.Time)
			}
			// The restarted engine knows the snapshot and what follows it.
			var after []bridge.Event
			for _, ev := range got.events {
				if ev.Time.After(snap.Time) {
					after = append(after, ev)
				}
			}
			fresh := activities("ami", append([]bridge.Event{snap}, after...))
			want := map[string]bridge.Activity{}
			for _, a := range activities("ami", all) {
				want[a.User+" "+string(a.Direction)] = a
			}
			if len(fresh) == 0 {
				t.Fatal("nothing adopted")
			}
			for _, a := range fresh {
				w, ok := want[a.User+" "+string(a.Direction)]
				if !ok {
					t.Errorf("%s %s: not in the uninterrupted stream", a.User, a.Direction)
					continue
				}
				if a.State != w.State || a.Reason != w.Reason || a.RemoteNumber != w.RemoteNumber || a.Internal != w.Internal {
					t.Errorf("adopted %s, want %s", brief([]bridge.Activity{a}), brief([]bridge.Activity{w}))
				}
				if !a.AnsweredAt.IsZero() && a.AnsweredAt.Before(w.AnsweredAt) {
					t.Errorf("%s: answered %v, before the real answer %v", a.User, a.AnsweredAt, w.AnsweredAt)
				}
				if a.TalkSeconds > w.TalkSeconds {
					t.Errorf("%s: talk %.3f s, more than the real %.3f s", a.User, a.TalkSeconds, w.TalkSeconds)
				}
			}
		})
	}
}
