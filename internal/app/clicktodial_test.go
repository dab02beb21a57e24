package app_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/ami/fakeami"
	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/api"
)

const lab = "../../testdata/lab"

// dialRequest is POST /api/agents/{ext}/calls with token.
func dialRequest(t *testing.T, base, ext, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/agents/"+ext+"/calls", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// cardKinds follows ext's caller-card stream until the call ends.
func cardKinds(t *testing.T, base, ext, token string, up chan<- struct{}) <-chan string {
	out := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("GET", base+"/api/agents/"+ext+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		close(up)
		if err != nil {
			out <- err.Error()
			return
		}
		defer resp.Body.Close()
		var got []string
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if k, ok := strings.CutPrefix(line, "event: "); ok {
				got = append(got, k)
			}
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				var ev struct {
					Call struct{ Type, Remote_number string } `json:"call"`
				}
				json.Unmarshal([]byte(d), &ev)
				got[len(got)-1] += "/" + ev.Call.Type + "/" + ev.Call.Remote_number
				if strings.HasPrefix(got[len(got)-1], "ended") {
					break
				}
			}
		}
		out <- strings.Join(got, ",")
	}()
	return out
}

// clickToDial runs the daemon with yaml (ari or ami pointing at a fake
// that plays the lab's answered originate), places a call for Alice, and
// checks the refusals, her card and the activity in the sink.
func clickToDial(t *testing.T, dir, yaml, refusal string, connected func(t *testing.T, base string) bool) {
	t.Helper()
	sinkPath := filepath.Join(dir, "activities.jsonl")
	writeToken(t, dir, "admin.token", adminToken)
	writeToken(t, dir, "alice.token", agentTokens["101"])
	d, _, _, stop := runDaemon(t, dir, yaml+fmt.Sprintf(`
state_dir: %s
sink: {file: %s}
trunks: [pstn]
default_region: FI
users:
  - {extension: "101", name: Alice, token_file: alice.token}
  - {extension: "102", name: Bob}
  - {extension: "199", name: Dave}
http:
  listen: 127.0.0.1:0
  admin_token_file: admin.token
click_to_dial:
  context: from-internal
`, dir, sinkPath), zerolog.Nop())
	base := "http://" + d.Addr().String()
	alice := agentTokens["101"]
	for _, tt := range []struct {
		ext, token, body string
		code             int
		msg              string
	}{
		{"101", "", `{"number": "0401234567"}`, 401, "unauthenticated"},
		{"102", alice, `{"number": "0401234567"}`, 403, "another user's"},
		{"105", adminToken, `{"number": "0401234567"}`, 404, "no user 105"},
		{"101", alice, `{"number": "04012x4567"}`, 400, `number "04012x4567"`},
		{"199", adminToken, `{"number": "0401234567"}`, 502, refusal},
	} {
		if code, body := dialRequest(t, base, tt.ext, tt.token, tt.body); code != tt.code || !strings.Contains(body, tt.msg) {
			t.Errorf("%s %s: %d %q, want %d %q", tt.ext, tt.body, code, body, tt.code, tt.msg)
		}
	}
	up := make(chan struct{})
	card := cardKinds(t, base, "101", alice, up)
	<-up
	// The source must be connected to hear the call (Asterisk, too, tells
	// only those connected).
	for deadline := time.Now().Add(10 * time.Second); !connected(t, base); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the source never connected")
		}
	}
	code, body := dialRequest(t, base, "101", alice, `{"number": "040 123 4567"}`)
	var res api.DialResult
	if err := json.Unmarshal([]byte(body), &res); code != 202 || err != nil {
		t.Fatalf("dial: %d %s", code, body)
	}
	select {
	case got := <-card:
		if got != "offer/manual/0401234567,open/manual/0401234567,connected/manual/0401234567,ended/manual/0401234567" {
			t.Errorf("Alice's card: %s", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Alice's card never ended")
	}
	var acts []bridge.Activity
	for deadline := time.Now().Add(30 * time.Second); len(acts) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		acts = readSink(t, sinkPath)
	}
	if len(acts) != 1 || acts[0].CallID != res.CallID || acts[0].User != "101" || acts[0].Direction != bridge.Outbound ||
		acts[0].State != bridge.Connected || acts[0].RemoteNumber != "0401234567" || acts[0].RemoteE164 != "+358401234567" {
		t.Errorf("activities %+v", acts)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// Click-to-dial through ARI: POST /channels to the fake, which answers and
// plays as the lab's Asterisk did; the events come back over the source
// and end as Alice's outbound call.
func TestClickToDialARI(t *testing.T) {
	o, err := fakeari.LoadOriginate(filepath.Join(lab, "ari_click_to_dial_answered"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fakeari.New(fakeari.Options{Username: "cb", Password: "s3cret-pw", Endpoints: []string{"PJSIP/101", "PJSIP/102", "PJSIP/pstn"},
		Offline: []string{"PJSIP/199"}, Originate: o})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ari.pw"), []byte("s3cret-pw\n"), 0o600)
	clickToDial(t, dir, fmt.Sprintf("ari: {url: %s, username: cb, password_file: ari.pw}\n", srv.URL()),
		"Asterisk refused the call (HTTP 500): Allocation failed (endpoint PJSIP/199 is offline: its phone is not registered)",
		func(*testing.T, string) bool { return srv.Clients() > 0 })
}

// Click-to-dial through AMI: an Originate on a session of its own, the
// events to the source's session, Alice's outbound call in the end.
func TestClickToDialAMI(t *testing.T) {
	o, err := fakeami.LoadOriginate(filepath.Join(lab, "ami_click_to_dial_answered"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fakeami.Start(fakeami.Config{Username: "cb", Secret: "s3cret-pw", Endpoints: []string{"101", "102", "pstn"},
		Offline: []string{"PJSIP/199"}, Originate: o})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ami.secret"), []byte("s3cret-pw\n"), 0o600)
	clickToDial(t, dir, fmt.Sprintf("ami: {host: %s, port: %d, username: cb, secret_file: ami.secret}\n", srv.Host(), srv.Port()),
		"Asterisk refused the call: the channel could not be created: no such endpoint, or its phone is not registered (OriginateResponse Reason 0)",
		func(t *testing.T, base string) bool {
			// The source has resynced (its snapshot counts as an event).
			return regexp.MustCompile(`(?m)^callbridge_ami_events_total [1-9]`).MatchString(get(t, base+"/metrics"))
		})
}
