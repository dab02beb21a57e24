package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/app"
	"github.com/callbridge/callbridge/internal/app/demo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The daemon, built from a config file as `callbridge run` builds it, follows
// a (fake) Asterisk over ARI and writes every activity to its sink once,
// while serving health and metrics.
func TestRunWritesActivities(t *testing.T) {
	recs, err := demo.Recordings()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fakeari.New(fakeari.Options{Recordings: recs, AwaitList: true, Username: "cb", Password: "s3cret-pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	dir := t.TempDir()
	sinkPath := filepath.Join(dir, "state", "activities.jsonl")
	yaml := fmt.Sprintf(`
state_dir: %s
ari:
  url: %s
  username: cb
  password_file: ari.pw
trunks: [pstn]
default_region: FI
sink:
  file: %s
http:
  listen: 127.0.0.1:0
  admin_token_file: admin.token
`, dir, srv.URL(), sinkPath)
	if err := os.WriteFile(filepath.Join(dir, "ari.pw"), []byte("s3cret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeToken(t, dir, "admin.token", adminToken)
	var logs strings.Builder
	lw := &syncWriter{w: &logs}
	d, _, ctx, stop := runDaemon(t, dir, yaml, zerolog.New(lw))

	// An agent's screen-pop client follows Bob's live states.
	live := make(chan string, 100)
	liveUp := make(chan struct{})
	go func() {
		defer close(live)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.Addr().String()+"/api/live?user=102", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			close(liveUp)
			return
		}
		defer resp.Body.Close()
		close(liveUp)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				live <- strings.TrimPrefix(sc.Text(), "data: ")
			}
		}
	}()
	<-liveUp
	time.Sleep(50 * time.Millisecond) // the hub has the listener
	if err := srv.Play(ctx); err != nil {
		t.Fatal(err)
	}

	// 14 activities in all, 2 of them answered elsewhere (no policy here:
	// the sink gets everything the engine finishes).
	var acts []bridge.Activity
	deadline := time.Now().Add(20 * time.Second)
	for len(acts) < 14 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		acts = readSink(t, sinkPath)
	}
	if len(acts) != 14 {
		t.Fatalf("%d activities in the sink, want 14", len(acts))
	}
	seen := map[string]bool{}
	for _, a := range acts {
		if seen[a.ID] {
			t.Errorf("activity %s written twice", a.ID)
		}
		seen[a.ID] = true
		if !a.Internal && a.RemoteE164 == "" {
			t.Errorf("%s: no remote_e164", a.ID)
		}
	}

	base := "http://" + d.Addr().String()
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready",
		"/metrics": `callbridge_engine_activities_total{source="ari",state="connected"} 9`} {
		body := get(t, base+path)
		if !strings.Contains(body, want) {
			t.Errorf("%s lacks %q:\n%.2000s", path, want, body)
		}
	}

	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var states []string
	for l := range live {
		var ev struct{ User, State, Source string }
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.User != "102" || ev.Source != "ari" {
			t.Errorf("live event %s: %v", l, err)
		}
		states = append(states, ev.State)
	}
	// Bob: internal call, ring group, queue, attended transfer.
	if got := strings.Join(states, ","); strings.Count(got, "ringing") != 4 || strings.Count(got, "connected") != 4 || strings.Count(got, "ended") != 4 {
		t.Errorf("Bob's live states: %s", got)
	}
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if !strings.Contains(logs.String(), "callbridge running") {
		t.Errorf("no start-up line in the log:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "s3cret-pw") || strings.Contains(logs.String(), adminToken) {
		t.Error("the ARI password or the admin token reached the log")
	}
}

// runDaemon writes yaml as dir/callbridge.yaml, loads and checks it as
// `callbridge run` does, and runs the daemon it describes until stop, which
// returns Run's error (the test's end stops it too).
func runDaemon(t *testing.T, dir, yaml string, log zerolog.Logger) (d *app.App, cfg *config.Config, ctx context.Context, stop func() error) {
	t.Helper()
	path := filepath.Join(dir, "callbridge.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err == nil {
		err = cfg.ValidateForRun()
	}
	if err != nil {
		t.Fatal(err)
	}
	if d, err = app.New(cfg, log); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { stop() })
	return d, cfg, ctx, stop
}

func readSink(t *testing.T, path string) []bridge.Activity {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var acts []bridge.Activity
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var a bridge.Activity
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("sink line %q: %v", sc.Text(), err)
		}
		acts = append(acts, a)
	}
	return acts
}

func get(t *testing.T, url string) string {
	t.Helper()
	return call(t, http.MethodGet, url, "")
}

// call sends a request with token (none when "") and gives the answer's
// body.
func call(t *testing.T, method, url, token string) string {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// adminToken is the tests' admin token (http.admin_token_file).
const adminToken = "test-admin-token-0123456789abcdef"

func writeToken(t *testing.T, dir, name, token string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// syncWriter lets the test read what several goroutines log.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
