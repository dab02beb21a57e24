package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/internal/app/demo"
)

// metric reads one sample from /metrics (0 when absent).
func metric(t *testing.T, base, sample string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`)
	m := re.FindStringSubmatch(get(t, base+"/metrics"))
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// pauseMidCall pauses the fake PBX at a moment a call is in progress, once
// the daemon has taken every event sent so far (and the snapshots of its
// connections so far). The fake pauses itself at the count asked for, so
// a fast playback cannot run past it.
func pauseMidCall(t *testing.T, srv *fakeari.Server, base string, after, snapshots int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	srv.PauseAt(after)
	for time.Now().Before(deadline) {
		if !srv.Paused() {
			time.Sleep(time.Millisecond)
			continue
		}
		for float64(srv.Sent()) != metric(t, base, "callbridge_ari_events_received_total") ||
			metric(t, base, "callbridge_ari_events_mapped_total")+float64(snapshots) != metric(t, base, `callbridge_engine_events_total{source="ari"}`) {
			time.Sleep(time.Millisecond)
		}
		if metric(t, base, `callbridge_engine_calls{source="ari"}`) > 0 {
			return
		}
		srv.PauseAt(srv.Played() + 3)
		srv.Resume()
	}
	t.Fatal("never paused with a call in progress")
}

// A reload while a recording plays, once with a good file that changes
// the log level, the tokens, the number region, the ARI application (the
// source reconnects) and the connector (its workers are rebuilt), once
// with a bad one: no activity is lost or reported twice, the bad file
// changes nothing and is counted.
func TestReloadWhilePlaying(t *testing.T) {
	defer zerolog.SetGlobalLevel(zerolog.GlobalLevel())
	recs, err := demo.Recordings()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fakeari.New(fakeari.Options{Recordings: recs, AwaitList: true, Hold: true, Username: "cb", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rcv := &receiver{secret: []byte("hook-secret"), got: map[string]int{}}
	var reloaded, pushes int
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rcv.mu.Lock()
		pushes++
		if r.Header.Get("X-Config") == "b" {
			reloaded++
		}
		rcv.mu.Unlock()
		rcv.ServeHTTP(w, r)
	}))
	defer hook.Close()
	dir := t.TempDir()
	writeToken(t, dir, "a.token", "admin-token-a-0123456789")
	writeToken(t, dir, "b.token", "admin-token-b-0123456789")
	config := func(app, region, header, token, extra string) string {
		return fmt.Sprintf(`
state_dir: %s
log_level: info
ari: {url: %s, username: cb, password: pw, application: %s}
trunks: [pstn]
default_region: "%s"
http: {listen: "127.0.0.1:0", admin_token_file: %s}
policy: {start_margin: 2s, defaults: {screen_pop: {open: %s}}}
delivery: {backoff_min: 50ms, backoff_max: 200ms, poll_interval: 50ms}
crm:
  - type: webhook
    webhook: {url: %s, secret: hook-secret, headers: {X-Config: %s}}
%s`, dir, srv.URL(), app, region, token, map[string]string{"a": "call", "b": "connected"}[header], hook.URL, header, extra)
	}
	var logs strings.Builder
	lw := &syncWriter{w: &logs}
	d, cfg, ctx, stop := runDaemon(t, dir, config("callbridge", "", "a", "a.token", ""), zerolog.New(lw))
	base := "http://" + d.Addr().String()
	cfgPath := filepath.Join(dir, "callbridge.yaml")
	d.ConfigPath = cfgPath

	played := make(chan error, 1)
	go func() { played <- srv.Play(ctx) }()
	total := 0
	for _, r := range recs {
		total += len(r.Lines)
	}

	// The good file, with a call in progress.
	pauseMidCall(t, srv, base, total/3, 1)
	os.WriteFile(cfgPath, []byte(strings.Replace(config("callbridge-b", "FI", "b", "b.token", ""), "log_level: info", "log_level: debug", 1)), 0o600)
	if err := d.ReloadNow(ctx); err != nil {
		t.Fatalf("good reload: %v", err)
	}
	if zerolog.GlobalLevel() != zerolog.DebugLevel {
		t.Errorf("log level %s after the reload", zerolog.GlobalLevel())
	}
	if code := status(t, base+"/api/integrations", "admin-token-a-0123456789"); code != 401 {
		t.Errorf("the old admin token: %d after the reload", code)
	}
	if code := status(t, base+"/api/integrations", "admin-token-b-0123456789"); code != 200 {
		t.Errorf("the new admin token: %d after the reload", code)
	}
	// Play on once the source is back with the new application and its
	// old websocket is gone: an event written to a client that has just
	// closed would count as sent and never be received.
	reconnected := regexp.MustCompile(`"app":"callbridge-b",[^\n]*"channels":[1-9][0-9]*,"message":"ari source connected"`)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		lw.mu.Lock()
		back := reconnected.MatchString(logs.String())
		lw.mu.Unlock()
		if back && srv.Clients() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the source did not come back with the new application")
		}
	}
	srv.Resume()

	// The bad file, with a call in progress: nothing changes.
	pauseMidCall(t, srv, base, 2*total/3, 2)
	os.WriteFile(cfgPath, []byte(config("callbridge-c", "SE", "c", "a.token", "bogus_key: 1\n")), 0o600)
	if err := d.ReloadNow(ctx); err == nil || !strings.Contains(err.Error(), "bogus_key: unknown key") {
		t.Fatalf("bad reload: %v", err)
	}
	if code := status(t, base+"/api/integrations", "admin-token-b-0123456789"); code != 200 {
		t.Errorf("the running admin token after a bad reload: %d", code)
	}
	if n := metric(t, base, "callbridge_config_reload_failures_total"); n != 1 {
		t.Errorf("callbridge_config_reload_failures_total %v", n)
	}
	if n := metric(t, base, "callbridge_config_last_reload_successful"); n != 0 {
		t.Errorf("callbridge_config_last_reload_successful %v", n)
	}
	srv.Resume()
	if err := <-played; err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		rcv.mu.Lock()
		n := len(rcv.got)
		rcv.mu.Unlock()
		if n >= 12 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := metric(t, base, `callbridge_ari_reconnects_total`); n != 0 {
		t.Errorf("the source reconnected %v times by itself", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.got) != 12 || rcv.bad != 0 {
		t.Errorf("webhook got %d activities (%d bad signatures), want 12", len(rcv.got), rcv.bad)
	}
	for id, n := range rcv.got {
		if n != 1 {
			t.Errorf("activity %s delivered %d times", id, n)
		}
	}
	if reloaded == 0 || reloaded == pushes {
		t.Errorf("%d of %d pushes by the reloaded connector: want some before and some after", reloaded, pushes)
	}
	acts := readSink(t, cfg.Sink.File)
	seen := map[string]bool{}
	e164 := 0
	for _, a := range acts {
		if seen[a.ID] {
			t.Errorf("activity %s in the sink twice", a.ID)
		}
		seen[a.ID] = true
		if a.RemoteE164 != "" {
			e164++
		}
	}
	if len(acts) != 14 {
		t.Errorf("%d activities in the sink, want 14", len(acts))
	}
	if e164 == 0 || e164 == len(acts) {
		t.Errorf("%d of %d activities with remote_e164: the region applies from the reload on", e164, len(acts))
	}
	lw.mu.Lock()
	defer lw.mu.Unlock()
	// The source reconnected once with the new application, and found the
	// call in progress in its snapshot.
	if n := len(reconnected.FindAllString(logs.String(), -1)); n != 1 {
		t.Errorf("the source connected %d times with the new application and a call in progress, want once", n)
	}
	for _, want := range []string{`"message":"reload: configuration applied"`, `"message":"reload: new configuration rejected, keeping the running one"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no %s in the log", want)
		}
	}
}

func status(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
