package ari

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5/client/native"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/bridge"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var engineConfig = bridge.Config{Source: "ari", Trunks: []string{"pstn"}}

func recordingPath(name string) string {
	return filepath.Join("..", "testdata", "recordings", name, "ari.jsonl")
}

func recordingNames(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(recordingPath("*"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no recordings: %v", err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(filepath.Dir(p)))
	}
	return names
}

// collector feeds an engine and keeps what it finished, and every event.
type collector struct {
	eng    *bridge.Engine
	acts   []bridge.Activity
	events []bridge.Event
}

func newCollector() *collector { return &collector{eng: bridge.New(engineConfig)} }

func (c *collector) apply(ev bridge.Event) {
	c.events = append(c.events, ev)
	c.keep(c.eng.Apply(ev))
}

func (c *collector) keep(ts []bridge.Transition) {
	for _, tr := range ts {
		if tr.Activity != nil {
			c.acts = append(c.acts, *tr.Activity)
		}
	}
}

// flush ends what is still open at the last event's time, as a replay does.
func (c *collector) flush() {
	var last time.Time
	for _, ev := range c.events {
		if ev.Time.After(last) {
			last = ev.Time
		}
	}
	c.keep(c.eng.Flush(last))
}

// replay is the reference: the recording read straight into the engine.
func replay(t *testing.T, name string) *collector {
	t.Helper()
	f, err := os.Open(recordingPath(name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := newCollector()
	if _, err := ReadRecording(f, c.apply); err != nil {
		t.Fatal(err)
	}
	c.flush()
	return c
}

type liveRun struct {
	*collector
	src    *Source
	server *fakeari.Server
}

// live plays recs through fakeari to a Source feeding an engine, and
// returns once the source has received every message the server sent.
func live(t *testing.T, recs []fakeari.Recording, drops ...fakeari.Drop) liveRun {
	t.Helper()
	srv, err := fakeari.New(fakeari.Options{
		Username: "bridge", Password: "bridge-secret",
		Recordings: recs, Drops: drops, AwaitList: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	src, err := NewSource(Config{
		URL: srv.URL(), Username: "bridge", Password: "bridge-secret",
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel), MinBackoff: 5 * time.Millisecond,
	}, prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	// unready counts the events since the source last said it had handed
	// on all it had read.
	var unready, readies atomic.Int64
	apply := func(ev bridge.Event) { unready.Add(1); c.apply(ev) }
	ready := func() { unready.Store(0); readies.Add(1) }
	go func() { ran <- src.RunBatches(runCtx, apply, ready) }()

	if err := srv.Play(ctx); err != nil {
		t.Fatalf("play: %v", err)
	}
	for int(testutil.ToFloat64(src.m.received)) < srv.Sent() {
		select {
		case <-ctx.Done():
			t.Fatalf("source received %v of %d messages", testutil.ToFloat64(src.m.received), srv.Sent())
		case <-time.After(2 * time.Millisecond):
		}
	}
	// Once the server has nothing more to send, the source says so before
	// it waits: the last batch ends without another message or a timer.
	for unready.Load() != 0 || readies.Load() == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("%d events handed on and no ready", unready.Load())
		case <-time.After(2 * time.Millisecond):
		}
	}
	stop()
	if err := <-ran; err != nil {
		t.Fatalf("run: %v", err)
	}
	c.flush()
	return liveRun{collector: c, src: src, server: srv}
}

func load(t *testing.T, name string) fakeari.Recording {
	t.Helper()
	rec, err := fakeari.LoadRecording(recordingPath(name))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// activityJSON is every activity in full, sorted, for comparison.
func activityJSON(t *testing.T, acts []bridge.Activity) []string {
	t.Helper()
	out := make([]string, 0, len(acts))
	for _, a := range acts {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

// outcomes is what must survive a gap: who took part, which way, and
// whether they connected.
func outcomes(acts []bridge.Activity) []string {
	out := make([]string, 0, len(acts))
	for _, a := range acts {
		out = append(out, fmt.Sprintf("%s %s %s", a.User, a.Direction, a.State))
	}
	slices.Sort(out)
	return out
}

// TestLiveMatchesReplay: the live path (fakeari → websocket → Source →
// engine) gives exactly the activities of reading the recording.
func TestLiveMatchesReplay(t *testing.T) {
	total := 0
	for _, name := range recordingNames(t) {
		t.Run(name, func(t *testing.T) {
			want := activityJSON(t, replay(t, name).acts)
			run := live(t, []fakeari.Recording{load(t, name)})
			got := activityJSON(t, run.acts)
			if !slices.Equal(got, want) {
				t.Errorf("live activities differ from replay:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
			}
			total += len(want)
			if n := testutil.ToFloat64(run.src.m.reconnects); n != 0 {
				t.Errorf("%v reconnects in an uninterrupted play", n)
			}
			if n := testutil.ToFloat64(run.src.m.malformed); n != 0 {
				t.Errorf("%v malformed events in a real recording", n)
			}
			if snaps := snapshots(run.events); len(snaps) != 1 || len(snaps[0].Channels) != 0 {
				t.Errorf("snapshots = %+v, want one, empty, at the first connect", snaps)
			}
		})
	}
	if total == 0 {
		t.Error("the engine finished no activity from any recording")
	}
}

func snapshots(evs []bridge.Event) []bridge.Event {
	var out []bridge.Event
	for _, ev := range evs {
		if ev.Kind == bridge.Snapshot {
			out = append(out, ev)
		}
	}
	return out
}

// index finds the n-th (from 0) line of rec of event type typ.
func index(t *testing.T, rec fakeari.Recording, typ string, n int) int {
	t.Helper()
	for i, l := range rec.Lines {
		var v struct{ Type string }
		if json.Unmarshal(l, &v) == nil && v.Type == typ {
			if n == 0 {
				return i
			}
			n--
		}
	}
	t.Fatalf("%s has no %s #%d", rec.Name, typ, n)
	return 0
}

// expectedSnapshot is what Asterisk holds after lines[:upTo]: each live
// channel and the bridge it is in.
func expectedSnapshot(t *testing.T, rec fakeari.Recording, upTo int) map[string]string {
	t.Helper()
	live := map[string]string{}
	for _, l := range rec.Lines[:upTo] {
		ev, ok, err := Decode(l)
		if err != nil || !ok {
			continue
		}
		switch ev.Kind {
		case bridge.ChannelCreated:
			live[ev.Channel.ID] = ""
		case bridge.ChannelDestroyed:
			delete(live, ev.Channel.ID)
		case bridge.BridgeEnter:
			live[ev.Channel.ID] = ev.Bridge
		case bridge.BridgeLeave:
			if live[ev.Channel.ID] == ev.Bridge {
				live[ev.Channel.ID] = ""
			}
		}
	}
	return live
}

func recordTime(t *testing.T, line []byte) time.Time {
	t.Helper()
	var v struct{ Timestamp string }
	if err := json.Unmarshal(line, &v); err != nil {
		t.Fatal(err)
	}
	ts, err := time.Parse("2006-01-02T15:04:05.000-0700", v.Timestamp)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestDropMidCall loses the websocket in the middle of a call, with events
// lost in the gap, and checks that the source reconnects, reconciles with a
// snapshot of what Asterisk holds, and that no activity is lost or doubled.
//
// Times can differ from the uninterrupted replay: a channel that ended in
// the gap is closed at the last event seen before it (so its ended_at and
// talk or ring seconds shrink), and a reason decided by a lost event (a
// transfer) may read differently. Who took part, which way and whether they
// connected must not.
func TestDropMidCall(t *testing.T) {
	tests := []struct {
		name, rec string
		// at and resume are given as the n-th event of a type.
		atType        string
		atN, atOffset int
		resumeType    string
		resumeN       int
		// lastLost: the resume event itself is lost too (else the gap
		// ends just before it).
		lastLost bool
		// same: nothing the engine uses is lost, so activities must match
		// in full.
		same bool
	}{
		// The gap ends just before the caller's hang-up request, which
		// ends the talk.
		{name: "ring group, talking through the gap", rec: "ring_group",
			atType: "ChannelEnteredBridge", atN: 1, atOffset: 1,
			resumeType: "ChannelHangupRequest", resumeN: 0, same: true},
		{name: "ring group, caller hangs up in the gap", rec: "ring_group",
			atType: "ChannelEnteredBridge", atN: 1, atOffset: 1,
			resumeType: "ChannelDestroyed", resumeN: 1, lastLost: true},
		{name: "attended transfer, gap between consult and transfer", rec: "attended_transfer",
			atType: "ChannelEnteredBridge", atN: 5, atOffset: 1,
			resumeType: "BridgeAttendedTransfer", resumeN: 0, lastLost: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := load(t, tt.rec)
			at := index(t, rec, tt.atType, tt.atN) + tt.atOffset
			resume := index(t, rec, tt.resumeType, tt.resumeN)
			if tt.lastLost {
				resume++
			}
			ref := replay(t, tt.rec)
			run := live(t, []fakeari.Recording{rec}, fakeari.Drop{At: at, Resume: resume})

			// Attempts refused during the gap count too.
			if n := testutil.ToFloat64(run.src.m.reconnects); n < 1 {
				t.Errorf("reconnects = %v, want at least 1", n)
			}
			snaps := snapshots(run.events)
			if len(snaps) != 2 {
				t.Fatalf("%d snapshots, want one per connect", len(snaps))
			}
			snap := snaps[1]
			if want := recordTime(t, rec.Lines[at-1]); !snap.Time.Equal(want) {
				t.Errorf("snapshot time %v, want the last event before the gap, %v", snap.Time, want)
			}
			got := map[string]string{}
			for _, c := range snap.Channels {
				got[c.ID] = c.Bridge
				if c.Name == "" || c.Created.IsZero() || c.State == bridge.StateUnknown {
					t.Errorf("snapshot channel incomplete: %+v", c)
				}
			}
			if want := expectedSnapshot(t, rec, resume); !mapsEqual(got, want) {
				t.Errorf("snapshot channels (id: bridge) = %v, want %v", got, want)
			}

			if tt.same {
				if g, w := activityJSON(t, run.acts), activityJSON(t, ref.acts); !slices.Equal(g, w) {
					t.Errorf("activities differ:\n got %s\nwant %s", strings.Join(g, "\n     "), strings.Join(w, "\n     "))
				}
			}
			if g, w := outcomes(run.acts), outcomes(ref.acts); !slices.Equal(g, w) {
				t.Errorf("activities lost or doubled across the gap:\n got %q\nwant %q", g, w)
			}
			if len(ref.acts) == 0 {
				t.Log("the engine finished no activity; the comparison is empty")
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestMalformedMessages: garbage and over-long messages are counted and
// dropped; the connection and the events around them are kept.
func TestMalformedMessages(t *testing.T) {
	rec := load(t, "inbound_busy")
	bad := [][]byte{
		[]byte(`not json`),
		[]byte(`{"type":"ChannelCreated","timestamp":"yesterday"}`),
		[]byte(`{"no":"type"}`),
		bytes.Repeat([]byte("x"), maxLine+1),
	}
	lines := slices.Clone(rec.Lines)
	lines = slices.Insert(lines, 3, bad...)
	run := live(t, []fakeari.Recording{{Name: "bad", Lines: lines}})
	if n := testutil.ToFloat64(run.src.m.malformed); n != float64(len(bad)) {
		t.Errorf("malformed = %v, want %d", n, len(bad))
	}
	if n := testutil.ToFloat64(run.src.m.reconnects); n != 0 {
		t.Errorf("reconnects = %v, want 0", n)
	}
	if g, w := activityJSON(t, run.acts), activityJSON(t, replay(t, "inbound_busy").acts); !slices.Equal(g, w) {
		t.Errorf("activities differ:\n got %s\nwant %s", g, w)
	}
	if n, want := testutil.ToFloat64(run.src.m.received), float64(len(lines)); n != want {
		t.Errorf("received = %v, want %v", n, want)
	}
}

// TestBadPassword: refused credentials end Run with a clear error that,
// like the log, does not contain the password.
func TestBadPassword(t *testing.T) {
	const secret = "s3cret-Pa55"
	srv, err := fakeari.New(fakeari.Options{Username: "bridge", Password: "right"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var logs bytes.Buffer
	src, err := NewSource(Config{URL: srv.URL(), Username: "bridge", Password: secret, Logger: zerolog.New(&logs)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = src.Run(ctx, func(bridge.Event) { t.Error("event without a connection") })
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Run = %v, want ErrUnauthorized", err)
	}
	if !strings.Contains(err.Error(), `"bridge"`) || !strings.Contains(err.Error(), "401") {
		t.Errorf("error %q should name the user and the status", err)
	}
	for _, s := range []string{err.Error(), logs.String(), fmt.Sprint(src.cfg), fmt.Sprintf("%#v", src.cfg)} {
		if strings.Contains(s, secret) {
			t.Errorf("password leaked: %s", s)
		}
	}
	if n := testutil.ToFloat64(src.m.authFailures); n != 1 {
		t.Errorf("auth failures = %v, want 1", n)
	}
}

// TestUnreachable: with nobody listening the source keeps retrying, quietly
// counting, until its context ends; then it returns nil.
func TestUnreachable(t *testing.T) {
	srv, err := fakeari.New(fakeari.Options{})
	if err != nil {
		t.Fatal(err)
	}
	url := srv.URL()
	srv.Close()
	src, err := NewSource(Config{URL: url, Username: "u", Password: "p", Logger: zerolog.Nop(), MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- src.Run(ctx, func(bridge.Event) {}) }()
	for testutil.ToFloat64(src.m.reconnects) < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Errorf("Run = %v after cancel, want nil", err)
	}
}

func TestConfig(t *testing.T) {
	const secret = "hunter2"
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
		wantWS  string
	}{
		{name: "defaults", cfg: Config{Username: "u", Password: secret},
			wantWS: "ws://127.0.0.1:8088/ari/events?app=callbridge&subscribeAll=true"},
		{name: "https", cfg: Config{URL: "https://pbx.example/ari/", Application: "crm", Username: "u", Password: secret},
			wantWS: "wss://pbx.example/ari/events?app=crm&subscribeAll=true"},
		{name: "own websocket", cfg: Config{WebsocketURL: "ws://10.0.0.1:8088/ari/events", Username: "u", Password: secret},
			wantWS: "ws://10.0.0.1:8088/ari/events?app=callbridge&subscribeAll=true"},
		{name: "credentials in url", cfg: Config{URL: "http://u:" + secret + "@pbx/ari", Username: "u", Password: secret}, wantErr: "url: must not contain credentials"},
		{name: "bad scheme", cfg: Config{URL: "ftp://pbx/ari", Username: "u", Password: secret}, wantErr: "url: must be http"},
		{name: "bad websocket scheme", cfg: Config{WebsocketURL: "http://pbx/ari/events", Username: "u", Password: secret}, wantErr: "websocket_url: must be ws"},
		{name: "no user", cfg: Config{Password: secret}, wantErr: "username: required"},
		{name: "no password", cfg: Config{Username: "u"}, wantErr: "password: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := NewSource(tt.cfg, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("password in error %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := src.ws.String(); got != tt.wantWS {
				t.Errorf("websocket URL = %s, want %s", got, tt.wantWS)
			}
		})
	}
}

// TestMetricsShared: a second source on the same registry (a reload) shares
// the counters rather than failing.
func TestMetricsShared(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	a, err := NewSource(Config{Username: "u", Password: "p"}, reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSource(Config{Username: "u", Password: "p"}, reg)
	if err != nil {
		t.Fatal(err)
	}
	a.m.received.Inc()
	if testutil.ToFloat64(b.m.received) != 1 {
		t.Error("second source does not share the counters")
	}
	n, err := testutil.GatherAndCount(reg)
	if err != nil || n != 6 {
		t.Errorf("gathered %d metrics, %v; want 6", n, err)
	}
}

func TestParseSnapshot(t *testing.T) {
	chans := `[{"id":"1.1","name":"PJSIP/101-00000001","state":"Up","caller":{"name":"Alice","number":"101"},"connected":{"name":"","number":""},"dialplan":{"context":"from-internal","exten":"102","priority":1},"creationtime":"2026-11-21T16:11:20.400+0000"},
		{"id":"1.2","name":"PJSIP/102-00000002","state":"Ringing","creationtime":"2026-11-21T16:11:21.500+0000"}]`
	bridges := `[{"id":"b1","bridge_type":"mixing","bridge_class":"basic","channels":["1.1"]}]`
	tests := []struct {
		name     string
		last     time.Time
		wantTime time.Time
	}{
		{"first connect: newest creation", time.Time{}, time.Date(2026, 11, 21, 16, 11, 21, 500e6, time.UTC)},
		{"reconnect: last event", time.Date(2026, 11, 21, 17, 0, 0, 0, time.UTC), time.Date(2026, 11, 21, 17, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parseSnapshot([]byte(chans), []byte(bridges), tt.last)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind != bridge.Snapshot || !ev.Time.Equal(tt.wantTime) || len(ev.Channels) != 2 {
				t.Fatalf("snapshot = %+v", ev)
			}
			c := ev.Channels[0]
			if c.Bridge != "b1" || c.State != bridge.StateUp || c.CallerNumber != "101" || c.Exten != "102" || c.Context != "from-internal" || ev.Channels[1].Bridge != "" {
				t.Errorf("channels = %+v", ev.Channels)
			}
		})
	}
	for _, bad := range [][2]string{{"{", "[]"}, {"[]", "nope"}, {`[{"id":"x","creationtime":"soon"}]`, "[]"}} {
		if _, err := parseSnapshot([]byte(bad[0]), []byte(bad[1]), time.Time{}); err == nil {
			t.Errorf("parseSnapshot(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

func TestLogLibraryTo(t *testing.T) {
	var buf bytes.Buffer
	LogLibraryTo(zerolog.New(&buf))
	t.Cleanup(func() { LogLibraryTo(zerolog.Nop()) })
	native.Logger.Error("failed to connect to Asterisk", "error", errors.New("refused"), "n", 3)
	var v map[string]any
	if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
		t.Fatalf("log %q: %v", buf.String(), err)
	}
	if v["level"] != "error" || v["message"] != "failed to connect to Asterisk" || v["error"] != "refused" || v["n"] != 3.0 {
		t.Errorf("log = %v", v)
	}
}

// TestRestartAdoptsCallsInProgress: callbridge starts (or restarts without
// its journal) while calls are up. The snapshot of the first connect is all
// it knows of them: the channels' creationtime, state and application, the
// bridges they are in and when those were made, Asterisk's time from
// /asterisk/ping, as fakeari serves the recorded JSON over REST. The users
// still in the call are adopted with the outcome, direction and remote
// party the uninterrupted replay gives, answered never before they were
// and talk never longer than it was. (Asterisk makes a Dial's bridge a
// millisecond or two before the engine sees the second party enter it,
// which is what the replay calls the answer; the SIP answer came before
// both.)
func TestRestartAdoptsCallsInProgress(t *testing.T) {
	tests := []struct {
		name, rec string
		atType    string
		atN, off  int
	}{
		{"mid-ring, inbound", "inbound_answered", "ChannelStateChange", 0, 1},
		{"mid-talk, inbound", "inbound_answered", "ChannelEnteredBridge", 1, 1},
		{"mid-talk, outbound", "outbound_answered", "ChannelEnteredBridge", 1, 1},
		{"mid-talk, internal", "internal_answered", "ChannelEnteredBridge", 1, 1},
		{"mid-ring, ring group", "ring_group", "ChannelStateChange", 1, 1},
		{"mid-ring, queue of Local members", "queue_local_members", "ChannelStateChange", 2, 1},
		{"mid-talk, click-to-dial", "click_to_dial_originate", "ChannelEnteredBridge", 1, 1},
		{"mid-transfer, consulting", "attended_transfer", "ChannelEnteredBridge", 3, 1},
		{"mid-transfer, consultation answered", "attended_transfer", "ChannelEnteredBridge", 5, 1},
		{"parked", "call_park_retrieve", "ChannelEnteredBridge", 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := load(t, tt.rec)
			at := index(t, rec, tt.atType, tt.atN) + tt.off
			ref := replay(t, tt.rec)
			run := live(t, []fakeari.Recording{rec}, fakeari.Drop{At: at, Resume: at})
			var from int
			for i, ev := range run.events {
				if ev.Kind == bridge.Snapshot {
					from = i
				}
			}
			snap := run.events[from]
			if from == 0 || len(snap.Channels) == 0 {
				t.Fatalf("no snapshot with channels after the drop (%d events)", len(run.events))
			}
			if snap.Listed.IsZero() || snap.Listed.Before(snap.Time) {
				t.Errorf("listed %v, want Asterisk's time from /asterisk/ping, no earlier than the last event %v", snap.Listed, snap.Time)
			}
			for _, c := range snap.Channels {
				if c.Bridge != "" && c.Bridged.IsZero() {
					t.Errorf("snapshot channel %s in bridge %s without the bridge's creation time", c.Name, c.Bridge)
				}
			}
			// Parts that ended before the restart are gone with it, unless
			// the user's phone is still up with its call: a transfer done
			// just before it is then unknowable, and the user merely
			// answered. A phone the PBX dialled that is found with nobody
			// in its bridge and meets nobody after (a parker, hanging up)
			// is what was left of a part that ended: gone too.
			inBridge := map[string]int{}
			for _, c := range snap.Channels {
				if c.Bridge != "" {
					inBridge[c.Bridge]++
				}
			}
			inSnap := map[string]bool{}
			for _, c := range snap.Channels {
				alone := c.Bridge == "" || inBridge[c.Bridge] == 1
				if (c.App == "AppDial" || c.App == "AppQueue") && alone {
					continue
				}
				if res, ok := strings.CutPrefix(c.Name, "PJSIP/"); ok {
					inSnap[res[:strings.LastIndexByte(res, '-')]] = true
				}
			}
			var kept []bridge.Activity
			for _, a := range ref.acts {
				if inSnap[a.User] || a.EndedAt.After(snap.Time) {
					if a.Reason == bridge.ReasonTransferred && !a.EndedAt.After(snap.Time) {
						a.Reason = bridge.ReasonAnswered
					}
					kept = append(kept, a)
				}
			}
			ref.acts = kept
			// The restarted engine knows only what follows.
			fresh := newCollector()
			for _, ev := range run.events[from:] {
				fresh.apply(ev)
			}
			fresh.flush()
			if g, w := outcomes(fresh.acts), outcomes(ref.acts); !slices.Equal(g, w) {
				t.Fatalf("adopted outcomes %q, want %q", g, w)
			}
			// Matched by user and direction: ARI's channel JSON has no
			// linkedid, so a channel the snapshot shows apart from the rest
			// of its call (a parker alone in the old bridge) is a call, and
			// an id, of its own.
			want := map[string]bridge.Activity{}
			for _, a := range ref.acts {
				want[a.User+" "+string(a.Direction)] = a
			}
			for _, a := range fresh.acts {
				w, ok := want[a.User+" "+string(a.Direction)]
				if !ok {
					t.Errorf("%s: activity %s not in the uninterrupted replay", a.User, a.ID)
					continue
				}
				if a.Reason != w.Reason || a.RemoteNumber != w.RemoteNumber || a.Internal != w.Internal {
					t.Errorf("%s: %s/%s remote %s internal %v, want %s/%s %s %v", a.User, a.State, a.Reason, a.RemoteNumber, a.Internal, w.State, w.Reason, w.RemoteNumber, w.Internal)
				}
				const bridgeLead = 5 * time.Millisecond
				if !a.AnsweredAt.IsZero() && a.AnsweredAt.Before(w.AnsweredAt.Add(-bridgeLead)) {
					t.Errorf("%s: answered %v, before the real answer %v", a.User, a.AnsweredAt, w.AnsweredAt)
				}
				if a.TalkSeconds > w.TalkSeconds+bridgeLead.Seconds() {
					t.Errorf("%s: talk %.3f s, more than the real %.3f s", a.User, a.TalkSeconds, w.TalkSeconds)
				}
			}
		})
	}
}

// TestJoinedLateMakesNoCallOfItsOwn: a source that connects at any moment
// of a call (a second instance on the same store, or one restarted with
// nothing journaled) makes no activity under an id the uninterrupted
// replay does not make. An activity it made under another id would reach
// the CRM beside the one an instance following the PBX throughout makes;
// the shared store only tells repeats apart by id. Joined after the
// caller hung up, inbound_answered lists only Alice's phone being hung up;
// ring_group, her phone being taken back after Bob answered; call_pickup,
// her ringing phone that the pickup ends without a Dial event.
func TestJoinedLateMakesNoCallOfItsOwn(t *testing.T) {
	for _, name := range []string{"inbound_answered", "ring_group", "call_pickup"} {
		t.Run(name, func(t *testing.T) {
			rec := load(t, name)
			made := map[string]bool{}
			for _, a := range replay(t, name).acts {
				made[a.ID] = true
			}
			step := 1
			if raceBuild {
				step = 4
			}
			for at := 0; at < len(rec.Lines); at += step {
				run := live(t, []fakeari.Recording{rec}, fakeari.Drop{At: 0, Resume: at})
				// The joining engine knows what follows its snapshot.
				from := 0
				for i, ev := range run.events {
					if ev.Kind == bridge.Snapshot {
						from = i
					}
				}
				fresh := newCollector()
				for _, ev := range run.events[from:] {
					fresh.apply(ev)
				}
				fresh.flush()
				for _, a := range fresh.acts {
					if !made[a.ID] {
						t.Errorf("joined at event %d: %s %s/%s under call %s, an id the whole call does not make", at, a.User, a.State, a.Reason, a.CallID)
					}
				}
			}
		})
	}
}

// TestApplicationReplaced: two sources on one Asterisk with different
// application names both hear every event; a third registering the first
// one's name takes it over, as Asterisk does, and the first stops with
// ErrApplicationReplaced rather than sit on a silent websocket or take
// the name back.
func TestApplicationReplaced(t *testing.T) {
	rec := load(t, "inbound_answered")
	srv, err := fakeari.New(fakeari.Options{Recordings: []fakeari.Recording{rec}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type run struct {
		c   *collector
		err chan error
		src *Source
	}
	start := func(app string) *run {
		src, err := NewSource(Config{URL: srv.URL(), Application: app, Username: "asterisk", Password: "asterisk",
			Logger: zerolog.New(zerolog.NewTestWriter(t)), MinBackoff: 5 * time.Millisecond}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := &run{c: newCollector(), err: make(chan error, 1), src: src}
		var mu sync.Mutex
		go func() {
			r.err <- src.Run(ctx, func(ev bridge.Event) { mu.Lock(); r.c.apply(ev); mu.Unlock() })
		}()
		return r
	}
	waitClients := func(n int) {
		for srv.Clients() != n {
			select {
			case <-ctx.Done():
				t.Fatalf("%d clients, want %d", srv.Clients(), n)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	a, b := start("callbridge-a"), start("callbridge-b")
	waitClients(2)
	if err := srv.Play(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*run{a, b} {
		for int(testutil.ToFloat64(r.src.m.received)) < len(rec.Lines) {
			select {
			case <-ctx.Done():
				t.Fatalf("received %v of %d", testutil.ToFloat64(r.src.m.received), len(rec.Lines))
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	c := start("callbridge-a")
	select {
	case err := <-a.err:
		if !errors.Is(err, ErrApplicationReplaced) || !strings.Contains(err.Error(), `"callbridge-a"`) {
			t.Fatalf("the replaced source returned %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the replaced source kept running")
	}
	waitClients(2)
	cancel()
	for _, r := range []*run{b, c} {
		if err := <-r.err; err != nil {
			t.Errorf("Run = %v", err)
		}
	}
}
