package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/cards"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func desk() *cards.Engine {
	return cards.New(cards.Options{Users: []cards.User{{Extension: "101", Name: "Alice"}, {Extension: "102", Name: "Bob"}}})
}

func ring(e *cards.Engine, user, call string) {
	e.Transition(bridge.Transition{Time: t0, CallID: call, User: user, State: bridge.Ringing, Direction: bridge.Inbound, RemoteNumber: "+358401234567"})
}

// sse is one open stream.
type sse struct {
	resp *http.Response
	rd   *bufio.Reader
}

type sseEvent struct {
	id, kind string
	data     cards.Event
}

func openStream(t *testing.T, srv *httptest.Server, path string, header http.Header) (*sse, int) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &sse{resp: resp, rd: bufio.NewReader(resp.Body)}, 200
}

func (s *sse) next(t *testing.T) sseEvent {
	t.Helper()
	var ev sseEvent
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && ev.kind != "":
			return ev
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.kind = line[7:]
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(line[6:]), &ev.data); err != nil {
				t.Fatalf("data %q: %v", line, err)
			}
		}
	}
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// The caller-card stream: 401 without a token, 403 for another agent's,
// 404 for no such user, 429 over the limits; the agent's own, by bearer
// or by the session cookie, streams events with ids.
func TestAgentStreamAuth(t *testing.T) {
	e := desk()
	m := api.New(api.Deps{Auth: tokens(true, false), Agents: e, Limits: api.Limits{StreamsPerAgent: 1, StreamsTotal: 2}})
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close) // after the streams' bodies are closed
	for _, tt := range []struct {
		path, token string
		code        int
	}{
		{"/api/agents/101/events", "", 401},
		{"/api/agents/101/events", "not-a-token-of-this-daemon", 401},
		{"/api/agents/102/events", aliceToken, 403},
		{"/api/agents/101/events", dialplanToken, 401}, // loopback, no dialplan token: nobody's
		{"/api/agents/105/events", adminToken, 404},
	} {
		if _, code := openStream(t, srv, tt.path, bearer(tt.token)); code != tt.code {
			t.Errorf("%s with %q: %d, want %d", tt.path, tt.token, code, tt.code)
		}
	}
	// The browser's way: sign in for the cookie, then the stream.
	resp, err := srv.Client().Post(srv.URL+"/api/session", "application/json", strings.NewReader(`{"token": "`+aliceToken+`"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("sign in: %v %v", resp.StatusCode, err)
	}
	cookie := resp.Cookies()[0]
	resp.Body.Close()
	s, code := openStream(t, srv, "/api/agents/101/events", http.Header{"Cookie": {cookie.String()}})
	if code != 200 {
		t.Fatalf("with the cookie: %d", code)
	}
	if _, code := openStream(t, srv, "/api/agents/101/events", bearer(aliceToken)); code != 429 {
		t.Errorf("Alice's second stream: %d, want 429 (streams_per_agent)", code)
	}
	if _, code := openStream(t, srv, "/api/agents/102/events", bearer(bobToken)); code != 200 {
		t.Errorf("Bob's first stream: %d", code)
	}
	if _, code := openStream(t, srv, "/api/agents/102/events", bearer(adminToken)); code != 429 {
		t.Errorf("a third stream: %d, want 429 (streams_total)", code)
	}
	ring(e, "101", "call-1")
	ev := s.next(t)
	if ev.kind != "offer" || ev.id == "" || ev.data.Card.CallID != "call-1" || ev.data.Card.RemoteNumber != "+358401234567" {
		t.Errorf("event %+v", ev)
	}
	if ev := s.next(t); ev.kind != "open" {
		t.Errorf("then %s", ev.kind)
	}
}

// A reconnecting client gets the calls in progress; with Last-Event-ID
// also what it missed, and nothing twice.
func TestAgentStreamLastEventID(t *testing.T) {
	e := desk()
	m := api.New(api.Deps{Auth: tokens(true, false), Agents: e})
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close) // after the streams' bodies are closed
	ring(e, "101", "call-1")
	s, _ := openStream(t, srv, "/api/agents/101/events", bearer(aliceToken))
	offer, open := s.next(t), s.next(t)
	if offer.kind != "offer" || open.kind != "open" {
		t.Fatalf("calls in progress: %s, %s", offer.kind, open.kind)
	}
	s.resp.Body.Close()
	e.Transition(bridge.Transition{Time: t0.Add(time.Second), CallID: "call-1", User: "101", State: bridge.HungUp, Direction: bridge.Inbound})
	ring(e, "101", "call-2")
	h := bearer(aliceToken)
	h.Set("Last-Event-ID", open.id)
	s, _ = openStream(t, srv, "/api/agents/101/events", h)
	var got []string
	for range 3 {
		ev := s.next(t)
		got = append(got, ev.kind+" "+ev.data.Card.CallID)
	}
	if strings.Join(got, ",") != "ended call-1,offer call-2,open call-2" {
		t.Errorf("resumed: %v", got)
	}
}

// Presence: every user is the admin's; one user, ?user=, is also that
// user's own, and says whether they are busy (routing's when_free).
func TestPresenceRoute(t *testing.T) {
	e := desk()
	ring(e, "102", "c")
	m := api.New(api.Deps{Auth: tokens(true, false), Agents: e})
	if w := do(m, "GET", "/api/agents", aliceToken); w.Code != 403 {
		t.Errorf("agent: %d", w.Code)
	}
	w := do(m, "GET", "/api/agents", adminToken)
	var p []cards.Presence
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || len(p) != 2 || p[1].Phone != cards.Ringing || p[0].Phone != cards.Idle || !p[1].Busy || p[0].Busy {
		t.Errorf("%d %s", w.Code, w.Body.String())
	}
	if w := do(m, "GET", "/api/agents?user=102", aliceToken); w.Code != 403 {
		t.Errorf("another user's: %d", w.Code)
	}
	var one cards.Presence
	w = do(m, "GET", "/api/agents?user=101", aliceToken)
	if err := json.Unmarshal(w.Body.Bytes(), &one); err != nil || w.Code != 200 || one.Extension != "101" || one.Busy {
		t.Errorf("own: %d %s", w.Code, w.Body.String())
	}
	w = do(m, "GET", "/api/agents?user=102", adminToken)
	if err := json.Unmarshal(w.Body.Bytes(), &one); err != nil || w.Code != 200 || !one.Busy || one.Phone != cards.Ringing {
		t.Errorf("admin, 102: %d %s", w.Code, w.Body.String())
	}
	if w := do(m, "GET", "/api/agents?user=199", adminToken); w.Code != 404 {
		t.Errorf("no such user: %d", w.Code)
	}
}

// dialer records what it is asked and answers err.
type dialer struct {
	mu    sync.Mutex
	calls []string
	err   error
	block bool
}

func (d *dialer) Originate(ctx context.Context, id, endpoint, number, callerID string) error {
	d.mu.Lock()
	d.calls = append(d.calls, id+" "+endpoint+" "+number+" "+callerID)
	d.mu.Unlock()
	if d.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return d.err
}

func post(m http.Handler, target, token, ctype, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	m.ServeHTTP(w, req)
	return w
}

// Click-to-dial: the agent's phone is rung through the Dialer, the call
// is marked manual before it rings, and every way it can fail answers
// at once with a status that says which.
func TestDial(t *testing.T) {
	e := desk()
	d := &dialer{}
	c2d := &api.ClickToDial{Dialer: d, Device: func(ext string) string { return "PJSIP/" + ext },
		CallerID: func(ext, n string) string { return `"` + n + `" <` + n + `>` }, Timeout: 200 * time.Millisecond}
	m := api.New(api.Deps{Auth: tokens(true, false), Agents: e, ClickToDial: func() *api.ClickToDial { return c2d }})
	w := post(m, "/api/agents/101/calls", aliceToken, "application/json", `{"number": "040 123 4567"}`)
	var res api.DialResult
	if err := json.Unmarshal(w.Body.Bytes(), &res); w.Code != 202 || err != nil || res.Number != "0401234567" || !strings.HasPrefix(res.CallID, "cb-c2d-") || res.Internal {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	if len(d.calls) != 1 || d.calls[0] != res.CallID+` PJSIP/101 0401234567 "0401234567" <0401234567>` {
		t.Errorf("dialer asked %v", d.calls)
	}
	// The PBX then rings Alice's phone with the caller id given: a
	// manual card for the number she asked for.
	replay, ch, cancel := e.Subscribe("101", 0, false)
	defer cancel()
	e.Transition(bridge.Transition{Time: t0, CallID: res.CallID, User: "101", State: bridge.Ringing, Direction: bridge.Inbound, RemoteNumber: "0401234567", RemoteName: "0401234567"})
	if ev := <-ch; len(replay) != 0 || ev.Card.Type != "manual" || ev.Card.RemoteNumber != "0401234567" {
		t.Errorf("card %+v", ev.Card)
	}
	if w := post(m, "/api/agents/101/calls", aliceToken, "application/json", `{"number": "102"}`); w.Code != 202 || !strings.Contains(w.Body.String(), `"internal": true`) {
		t.Errorf("to a colleague: %d %s", w.Code, w.Body.String())
	}
	d.err = errors.New("Asterisk refused the call (HTTP 500): Allocation failed (endpoint PJSIP/101 is offline: its phone is not registered)")
	for _, tt := range []struct {
		target, token, ctype, body string
		code                       int
		msg                        string
	}{
		{"/api/agents/101/calls", aliceToken, "application/json", `{"number": "0401234567"}`, 502, "Allocation failed (endpoint PJSIP/101 is offline"},
		{"/api/agents/101/calls", aliceToken, "application/json", `{"number": "call me"}`, 400, `number "call me": not a phone number`},
		{"/api/agents/101/calls", aliceToken, "application/json", `{"number": "1"}`, 400, `number "1"`},
		{"/api/agents/101/calls", aliceToken, "application/json", `{"number": "040;Dial(x)"}`, 400, "not a phone number"},
		{"/api/agents/101/calls", aliceToken, "application/x-www-form-urlencoded", "number=0401234567", 415, "application/json"},
		{"/api/agents/101/calls", aliceToken, "application/json", `nope`, 400, "JSON body"},
		{"/api/agents/105/calls", adminToken, "application/json", `{"number": "0401234567"}`, 404, "no user 105"},
		{"/api/agents/102/calls", aliceToken, "application/json", `{"number": "0401234567"}`, 403, "another user's"},
		{"/api/agents/101/calls", "", "application/json", `{"number": "0401234567"}`, 401, "unauthenticated"},
	} {
		w := post(m, tt.target, tt.token, tt.ctype, tt.body)
		if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.msg) {
			t.Errorf("%s %s: %d %q, want %d %q", tt.target, tt.body, w.Code, w.Body.String(), tt.code, tt.msg)
		}
	}
	// A PBX that does not answer: 504 within the timeout, never a hang.
	d.err, d.block = nil, true
	start := time.Now()
	if w := post(m, "/api/agents/101/calls", aliceToken, "application/json", `{"number": "0401234567"}`); w.Code != 504 {
		t.Errorf("no answer: %d %s", w.Code, w.Body.String())
	}
	if time.Since(start) > 5*time.Second {
		t.Error("the request hung")
	}
	// A dialer that gives up on a PBX that does not answer: 504 too.
	d.block, d.err = false, fmt.Errorf("ami: Asterisk did not confirm the call within 10s: %w", context.DeadlineExceeded)
	if w := post(m, "/api/agents/101/calls", aliceToken, "application/json", `{"number": "0401234567"}`); w.Code != 504 || !strings.Contains(w.Body.String(), "did not confirm") {
		t.Errorf("dialer timeout: %d %s", w.Code, w.Body.String())
	}
	// Off: 404 whoever asks.
	off := api.New(api.Deps{Auth: tokens(true, false), Agents: e})
	if w := post(off, "/api/agents/101/calls", aliceToken, "application/json", `{"number": "0401234567"}`); w.Code != 404 || !strings.Contains(w.Body.String(), "click-to-dial is off") {
		t.Errorf("off: %d %s", w.Code, w.Body.String())
	}
}

// The page is served from the binary, kept to its own origin.
func TestAgentPage(t *testing.T) {
	m := api.New(api.Deps{Auth: tokens(true, false)})
	for _, tt := range []struct {
		path, ctype, has string
		code             int
	}{
		{"/agent", "text/html", `<script src="/agent/agent.js"`, 200},
		{"/agent/agent.js", "javascript", "EventSource", 200},
		{"/agent/agent.css", "text/css", ".card", 200},
		{"/agent/nope.js", "", "", 404},
		{"/agent/..%2fpage.go", "", "", 404},
	} {
		w := do(m, "GET", tt.path, "")
		if w.Code != tt.code || !strings.Contains(w.Header().Get("Content-Type"), tt.ctype) || !strings.Contains(w.Body.String(), tt.has) {
			t.Errorf("%s: %d %s", tt.path, w.Code, w.Header().Get("Content-Type"))
		}
		if tt.code == 200 && !strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s: no CSP", tt.path)
		}
	}
	if w := do(m, "GET", "/api/session", aliceToken); w.Code != 200 || !strings.Contains(w.Body.String(), `"user": "101"`) {
		t.Errorf("whoami: %d %s", w.Code, w.Body.String())
	}
}
