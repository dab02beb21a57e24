package fakeari

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/websocket"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const recordings = "../../testdata/recordings"

func scenarios(t testing.TB) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(recordings, "*", "ari.jsonl"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no recordings under %s (copy them from the shared recordings): %v", recordings, err)
	}
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Base(filepath.Dir(d)))
	}
	return names
}

func load(t testing.TB, name string) Recording {
	t.Helper()
	rec, err := LoadRecording(filepath.Join(recordings, name, "ari.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// wsURL is the events websocket of s for app, with credentials in the query
// as api_key.
func wsURL(s *Server, query string) string {
	return strings.Replace(s.URL(), "http://", "ws://", 1) + "/events?" + query
}

func get(t *testing.T, s *Server, path, user, pass string, v any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

func TestAuth(t *testing.T) {
	s := start(t, Options{Username: "u", Password: "p"})
	tests := []struct {
		name string
		path string
		user string
		pass string
		want int
	}{
		{"basic", "/asterisk/info", "u", "p", 200},
		{"api key", "/asterisk/info?api_key=u:p", "", "", 200},
		{"bad password", "/asterisk/info", "u", "x", 401},
		{"bad api key", "/channels?api_key=u:x", "", "", 401},
		{"none", "/channels", "", "", 401},
		{"unknown resource", "/sounds", "u", "p", 404},
		{"unknown channel", "/channels/1.2", "u", "p", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := get(t, s, tt.path, tt.user, tt.pass, nil); got != tt.want {
				t.Errorf("GET %s = %d, want %d", tt.path, got, tt.want)
			}
		})
	}
	if _, err := websocket.Dial(wsURL(s, "app=a&subscribeAll=true&api_key=u:x"), "", "http://localhost/"); err == nil {
		t.Error("websocket with a bad password accepted")
	}
	ws, err := websocket.Dial(wsURL(s, "app=a&subscribeAll=true&api_key=u:p"), "", "http://localhost/")
	if err != nil {
		t.Fatalf("websocket with good credentials: %v", err)
	}
	ws.Close()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

// synthetic makes n ChannelCreated events a second apart.
func synthetic(n int) Recording {
	rec := Recording{Name: "synthetic"}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range n {
		ts := t0.Add(time.Duration(i) * time.Second).Format(ariTime)
		rec.Lines = append(rec.Lines, fmt.Appendf(nil,
			`{"type":"ChannelCreated","timestamp":%q,"channel":{"id":"1.%d","name":"PJSIP/101-%08d","state":"Ring","creationtime":%q},"asterisk_id":"x","application":"a"}`,
			ts, i, i, ts))
	}
	return rec
}

func receive(t *testing.T, ws *websocket.Conn) (string, error) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var msg []byte
	if err := websocket.Message.Receive(ws, &msg); err != nil {
		return "", err
	}
	var v struct {
		Channel struct{ ID string } `json:"channel"`
	}
	if err := json.Unmarshal(msg, &v); err != nil {
		t.Fatalf("not JSON: %q", msg)
	}
	return v.Channel.ID, nil
}

// TestDrop loses the client at event 2, refuses it until event 10 while the
// REST state keeps advancing, then takes it back and delivers the rest.
func TestDrop(t *testing.T) {
	s := start(t, Options{Recordings: []Recording{synthetic(12)}, Speed: 20, Drops: []Drop{{At: 2, Resume: 10}}, AwaitList: true})
	u := wsURL(s, "app=a&subscribeAll=true&api_key=asterisk:asterisk")
	ws, err := websocket.Dial(u, "", "http://localhost/")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, p := range []string{"/bridges", "/channels"} {
		if get(t, s, p, "asterisk", "asterisk", nil) != 200 {
			t.Fatalf("listing %s failed", p)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Play(ctx) }()

	for _, want := range []string{"1.0", "1.1"} {
		if got, err := receive(t, ws); err != nil || got != want {
			t.Fatalf("got %q, %v; want %s", got, err, want)
		}
	}
	if _, err := receive(t, ws); err == nil {
		t.Fatal("websocket still open after the drop")
	}
	if _, err := websocket.Dial(u, "", "http://localhost/"); err == nil {
		t.Fatal("reconnect accepted during the gap")
	}
	// Reconnect once playback has reached the end of the gap.
	for {
		ws, err = websocket.Dial(u, "", "http://localhost/")
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer ws.Close()
	var chans []struct{ ID string }
	get(t, s, "/bridges", "asterisk", "asterisk", nil)
	get(t, s, "/channels", "asterisk", "asterisk", &chans)
	if len(chans) != 10 {
		t.Fatalf("after the gap REST lists %d channels, want 10", len(chans))
	}
	for _, want := range []string{"1.10", "1.11"} {
		if got, err := receive(t, ws); err != nil || got != want {
			t.Fatalf("got %q, %v; want %s", got, err, want)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := s.Sent(); got != 4 {
		t.Errorf("Sent = %d, want 4", got)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

// TestNoSubscribeAll: a client that does not subscribe to all events hears
// nothing of calls outside Stasis, as with a real Asterisk.
func TestNoSubscribeAll(t *testing.T) {
	s := start(t, Options{Recordings: []Recording{synthetic(3)}})
	ws, err := websocket.Dial(wsURL(s, "app=a&api_key=asterisk:asterisk"), "", "http://localhost/")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Play(ctx); err == nil {
		t.Fatal("Play started without a subscribed client")
	}
}

func TestChainAndTag(t *testing.T) {
	a, b := synthetic(3), synthetic(2)
	b.Tag = "-b"
	t0 := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	recs := Chain(t0, 10*time.Second, a, b)
	if !recs[0].Start.Equal(t0) || !recs[1].Start.Equal(t0.Add(12*time.Second)) {
		t.Fatalf("starts %v %v", recs[0].Start, recs[1].Start)
	}
	first, _, _ := span(recs[1].Lines)
	line := rewrite(recs[1].Lines[1], recs[1].Start.Sub(first), recs[1].Tag)
	var v struct {
		Timestamp string
		Channel   struct{ ID, Creationtime string }
	}
	if err := json.Unmarshal(line, &v); err != nil {
		t.Fatal(err)
	}
	want := t0.Add(13 * time.Second).Format(ariTime)
	if v.Timestamp != want || v.Channel.Creationtime != want || v.Channel.ID != "1.1-b" {
		t.Errorf("rewritten = %+v, want time %s id 1.1-b", v, want)
	}
	if got := rewrite([]byte("not json"), time.Hour, "x"); string(got) != "not json" {
		t.Errorf("malformed line rewritten to %q", got)
	}
}

func TestReadRecording(t *testing.T) {
	rec, err := ReadRecording("r", strings.NewReader("\n{\"a\":1}\r\n  \n{\"b\":2}"))
	if err != nil || len(rec.Lines) != 2 {
		t.Fatalf("lines = %q, %v", rec.Lines, err)
	}
	if _, err := ReadRecording("r", io.MultiReader(strings.NewReader(strings.Repeat("x", maxLine+1)))); err == nil {
		t.Error("over-long line accepted")
	}
	if _, err := LoadRecording(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file loaded")
	}
	if _, err := New(Options{Drops: []Drop{{At: 5, Resume: 2}}}); err == nil {
		t.Error("drop resuming before it starts accepted")
	}
}

// TestHold: with Hold, playback stops while no client is connected and,
// with AwaitList, resumes only once the new client has listed channels and
// bridges; nothing is played to nobody.
func TestHold(t *testing.T) {
	s := start(t, Options{Recordings: []Recording{synthetic(6)}, Speed: 10, Hold: true, AwaitList: true})
	u := wsURL(s, "app=a&subscribeAll=true&api_key=asterisk:asterisk")
	connect := func() *websocket.Conn {
		t.Helper()
		ws, err := websocket.Dial(u, "", "http://localhost/")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/bridges", "/channels"} {
			if get(t, s, p, "asterisk", "asterisk", nil) != 200 {
				t.Fatalf("listing %s failed", p)
			}
		}
		return ws
	}
	ws := connect()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Play(ctx) }()
	for _, want := range []string{"1.0", "1.1"} {
		if got, err := receive(t, ws); err != nil || got != want {
			t.Fatalf("got %q, %v; want %s", got, err, want)
		}
	}
	ws.Close()
	// Playback notices the client is gone at the latest when writing to
	// it fails, then holds: whatever it had reached stays put.
	deadline := time.Now().Add(10 * time.Second)
	for s.Clients() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// One event may have passed the check just before the client left.
	time.Sleep(150 * time.Millisecond)
	held := s.Played()
	time.Sleep(200 * time.Millisecond)
	if s.Played() != held || held == 6 {
		t.Fatalf("played %d then %d events with no client, want playback held before the end", held, s.Played())
	}
	// A client that connects but has not listed yet does not release it.
	ws2, err := websocket.Dial(u, "", "http://localhost/")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if s.Played() != held {
		t.Fatalf("playback went on before the new client listed channels and bridges")
	}
	ws2.Close()
	ws = connect()
	defer ws.Close()
	var got []string
	for range 6 - held {
		id, err := receive(t, ws)
		if err != nil {
			t.Fatalf("after reconnect: %v (got %v)", err, got)
		}
		got = append(got, id)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("1.%d", held); got[0] != want {
		t.Errorf("first event after reconnect %s, want %s (events %v)", got[0], want, got)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

// TestMessages: Messages gives the lines Play sends, moved and tagged.
func TestMessages(t *testing.T) {
	rec := synthetic(2)
	rec.Tag = "-x"
	rec = Chain(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), 0, rec)[0]
	msgs := rec.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	var v struct {
		Timestamp string
		Channel   struct{ ID string }
	}
	if err := json.Unmarshal(msgs[1], &v); err != nil {
		t.Fatal(err)
	}
	if v.Channel.ID != "1.1-x" || v.Timestamp != "2030-01-01T00:00:01.000+0000" {
		t.Errorf("message = %+v", v)
	}
}

// TestEndpointConfig: caller ids are served as Asterisk's dynamic
// configuration serves a PJSIP endpoint; unknown endpoints are 404.
func TestEndpointConfig(t *testing.T) {
	s := start(t, Options{Endpoints: []string{"PJSIP/101", "PJSIP/pstn"}, CallerIDs: map[string]string{"101": `"Alice" <101>`}})
	var tuples []struct{ Attribute, Value string }
	if code := get(t, s, "/asterisk/config/dynamic/res_pjsip/endpoint/101", "asterisk", "asterisk", &tuples); code != 200 {
		t.Fatalf("GET endpoint config = %d", code)
	}
	if len(tuples) == 0 || tuples[0].Attribute != "callerid" || tuples[0].Value != `"Alice" <101>` {
		t.Errorf("tuples = %+v", tuples)
	}
	if code := get(t, s, "/asterisk/config/dynamic/res_pjsip/endpoint/pstn", "asterisk", "asterisk", nil); code != 404 {
		t.Errorf("endpoint without a caller id: %d, want 404", code)
	}
	var eps []struct{ Technology, Resource string }
	get(t, s, "/endpoints", "asterisk", "asterisk", &eps)
	if len(eps) != 2 || eps[1].Resource != "pstn" {
		t.Errorf("endpoints = %+v", eps)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

// TestPause: playback stops at Pause and goes on at Resume.
func TestPause(t *testing.T) {
	s := start(t, Options{Recordings: []Recording{synthetic(50)}, Speed: 100})
	ws, err := websocket.Dial(wsURL(s, "app=a&subscribeAll=true&api_key=asterisk:asterisk"), "", "http://localhost/")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Play(ctx) }()
	if _, err := receive(t, ws); err != nil {
		t.Fatal(err)
	}
	s.Pause()
	time.Sleep(50 * time.Millisecond) // an event being written may still go
	at := s.Played()
	time.Sleep(100 * time.Millisecond)
	if s.Played() != at || at == 50 {
		t.Fatalf("played %d then %d events while paused", at, s.Played())
	}
	s.Resume()
	for range 49 { // all but the first, received before the pause
		if _, err := receive(t, ws); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

// PauseAt stops playback itself at the count asked for, however fast it
// plays, once; Resume plays the rest.
func TestPauseAt(t *testing.T) {
	s := start(t, Options{Recordings: []Recording{synthetic(50)}})
	ws, err := websocket.Dial(wsURL(s, "app=a&subscribeAll=true&api_key=asterisk:asterisk"), "", "http://localhost/")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	s.PauseAt(20)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Play(ctx) }()
	for range 20 {
		if _, err := receive(t, ws); err != nil {
			t.Fatal(err)
		}
	}
	for !s.Paused() {
		select {
		case err := <-done:
			t.Fatalf("played to the end (%d events, %v) without pausing", s.Played(), err)
		case <-time.After(time.Millisecond):
		}
	}
	if got := s.Played(); got != 20 {
		t.Fatalf("paused after %d events, want 20", got)
	}
	s.Resume()
	for range 30 {
		if _, err := receive(t, ws); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}
