package fakeari

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

const lab = "../../testdata/lab"

func loadOriginate(t *testing.T, name string) *Originate {
	t.Helper()
	o, err := LoadOriginate(filepath.Join(lab, name))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// restCall is one line of a lab's ari-rest.jsonl.
type restCall struct {
	Method, Path, Query, Body string
	RequestBody               string `json:"request_body"`
	Status                    int
}

func restCalls(t *testing.T, name string) []restCall {
	t.Helper()
	f, err := os.Open(filepath.Join(lab, name, "ari-rest.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []restCall
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c restCall
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// send makes a lab call on the fake and returns its answer.
func send(t *testing.T, s *Server, c restCall) (int, []byte) {
	t.Helper()
	var body io.Reader
	if c.RequestBody != "" {
		body = strings.NewReader(c.RequestBody)
	}
	target := strings.TrimSuffix(s.URL(), "/ari") + c.Path
	if c.Query != "" {
		target += "?" + c.Query
	}
	req, _ := http.NewRequest(c.Method, target, body)
	req.SetBasicAuth(s.Username(), s.Password())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b))
	}
	return reflect.DeepEqual(x, y)
}

func client(t *testing.T, s *Server) *websocket.Conn {
	t.Helper()
	ws, err := websocket.Dial(wsURL(s, "app=t&subscribeAll=true&api_key=asterisk:asterisk"), "", "http://localhost/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	for s.Clients() == 0 {
		time.Sleep(time.Millisecond)
	}
	return ws
}

func messages(t *testing.T, ws *websocket.Conn, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for range n {
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		var msg []byte
		if err := websocket.Message.Receive(ws, &msg); err != nil {
			t.Fatalf("after %d messages: %v", len(out), err)
		}
		out = append(out, msg)
	}
	return out
}

// The lab's own request, sent to the fake at the lab's time, gives the
// lab's answer and, message for message, the lab's events: for each
// recorded originate.
func TestOriginateAsRecorded(t *testing.T) {
	for _, name := range []string{"ari_click_to_dial_answered", "ari_click_to_dial_channel_id", "ari_click_to_dial_noanswer", "ari_click_to_dial_bad_context"} {
		t.Run(name, func(t *testing.T) {
			o := loadOriginate(t, name)
			first, _, _ := span(o.Events.Lines)
			s := start(t, Options{Endpoints: []string{"PJSIP/101", "PJSIP/pstn"}, Originate: o, Now: func() time.Time { return first }})
			ws := client(t, s)
			var call restCall
			for _, c := range restCalls(t, name) {
				if c.Method == "POST" {
					call = c
				}
			}
			code, body := send(t, s, call)
			if code != call.Status || !sameJSON(body, []byte(call.Body)) {
				t.Fatalf("answer %d %s\nlab     %d %s", code, body, call.Status, call.Body)
			}
			got := messages(t, ws, len(o.Events.Lines))
			for i, want := range o.Events.Lines {
				if !sameJSON(got[i], want) {
					t.Fatalf("message %d:\n got %s\nlab  %s", i, got[i], want)
				}
			}
		})
	}
}

// Asterisk's refusals, as the lab recorded them: every request of
// ari_click_to_dial_refused gets the recorded status and body, and no
// event.
func TestOriginateRefused(t *testing.T) {
	s := start(t, Options{Endpoints: []string{"PJSIP/101"}, Offline: []string{"PJSIP/199"}, Originate: loadOriginate(t, "ari_click_to_dial_answered")})
	for _, c := range restCalls(t, "ari_click_to_dial_refused") {
		code, body := send(t, s, c)
		if code != c.Status || !sameJSON(body, []byte(c.Body)) {
			t.Errorf("%s %s?%s: %d %s, lab %d %s", c.Method, c.Path, c.Query, code, body, c.Status, c.Body)
		}
	}
	if s.Sent() != 0 {
		t.Errorf("%d events for refused originates", s.Sent())
	}
}

// Another agent, number and caller id: the same sequence, for them. The
// originated channel has the requested id and endpoint, the caller id is
// the request's, the dialled number the request's, the variable set.
func TestOriginateRewritten(t *testing.T) {
	o := loadOriginate(t, "ari_click_to_dial_answered")
	now := time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC)
	s := start(t, Options{Endpoints: []string{"PJSIP/102"}, Originate: o, Now: func() time.Time { return now },
		CallerIDs: map[string]string{"102": `"Bob Berg" <102>`}})
	ws := client(t, s)
	code, body := send(t, s, restCall{Method: "POST", Path: "/ari/channels",
		Query:       "endpoint=PJSIP%2F102&extension=0509999999&context=from-internal&priority=1&callerId=%220509999999%22%20%3C0509999999%3E&timeout=30&channelId=cb-c2d-x",
		RequestBody: `{"variables": {"CALLBRIDGE_ORIGINATE": "cb-c2d-x"}}`})
	var ch struct {
		ID, Name string
		Caller   struct{ Name, Number string }
	}
	if json.Unmarshal(body, &ch); code != 200 || ch.ID != "cb-c2d-x" || ch.Name != "PJSIP/102-00000000" || ch.Caller.Number != "0509999999" {
		t.Fatalf("answer %d %s", code, body)
	}
	got := messages(t, ws, len(o.Events.Lines)+1) // and the variable
	all := string(bytes.Join(got, []byte("\n")))
	for _, no := range []string{"0401234567", "PJSIP/101", "1796122177.0", "CRM:", "2026-12-01"} {
		if strings.Contains(all, no) {
			t.Errorf("the template's %q is left in the events", no)
		}
	}
	var kinds []string
	for _, m := range got[:7] {
		var ev struct {
			Type, Variable, Dialstring string
			Channel                    struct {
				ID, Name string
				Caller   struct{ Name, Number string }
			}
		}
		json.Unmarshal(m, &ev)
		kinds = append(kinds, ev.Type)
		if ev.Type == "ChannelCreated" && (ev.Channel.ID != "cb-c2d-x" || ev.Channel.Caller.Name != "Bob Berg" || ev.Channel.Caller.Number != "102") {
			t.Errorf("created %s", m)
		}
		if ev.Type == "ChannelVarset" && ev.Variable != "CALLBRIDGE_ORIGINATE" {
			t.Errorf("varset %s", m)
		}
	}
	if strings.Join(kinds, ",") != "ChannelCreated,ChannelDialplan,ChannelCallerId,ChannelConnectedLine,ChannelVarset,Dial,ChannelStateChange" {
		t.Errorf("sequence %v", kinds)
	}
	if !strings.Contains(all, `"dialstring":"0509999999@pstn"`) || !strings.Contains(all, `"dialstring":"102"`) || !strings.Contains(all, "2026-12-24T09:00:") {
		t.Errorf("dial strings or times not the request's:\n%s", all)
	}
}
