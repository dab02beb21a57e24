package app_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/crmsync/store/redis/redistest"
	"github.com/callbridge/callbridge/internal/api"
)

// readyz is /readyz?verbose, decoded, with its status code.
func readyz(t *testing.T, base string) (int, api.ReadyReport) {
	t.Helper()
	resp, err := http.Get(base + "/readyz?verbose")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep api.ReadyReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, rep
}

// awaitReady waits until /readyz says ready is want, and, when not
// ready, names the check down.
func awaitReady(t *testing.T, base string, want bool, down string) api.ReadyReport {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, rep := readyz(t, base)
		ok := rep.Ready == want && (code == 200) == want
		if ok && down != "" {
			ok = false
			for _, c := range rep.Checks {
				if c.Name == down && !c.OK {
					ok = true
				}
			}
		}
		if ok {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz never became ready=%v (down %q): %d %+v", want, down, code, rep)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Readiness follows the PBX feed and the store: 503 naming the source
// while the fake Asterisk is away, naming the store while redis-server is
// down, and ready again when each comes back. The plain /readyz says the
// same in a line.
func TestReadinessFlips(t *testing.T) {
	pbx, err := fakeari.New(fakeari.Options{Username: "cb", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer pbx.Close()
	rdb := redistest.Start(t)
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer crm.Close()
	dir := t.TempDir()
	d, _, _, stop := runDaemon(t, dir, fmt.Sprintf(`
state_dir: %s
ari: {url: %s, username: cb, password: pw}
store: {type: redis, redis_url: "%s"}
http: {listen: 127.0.0.1:0}
crm:
  - {name: hook, type: webhook, webhook: {url: "%s", secret: webhook-secret-0123456789}}
`, dir, pbx.URL(), rdb.URL(), crm.URL), zerolog.Nop())
	base := "http://" + d.Addr().String()

	rep := awaitReady(t, base, true, "")
	names := []string{}
	for _, c := range rep.Checks {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "daemon,source ari,store,connector hook" {
		t.Errorf("checks %s", got)
	}

	pbx.GoAway()
	awaitReady(t, base, false, "source ari")
	if body := get(t, base+"/readyz"); !strings.HasPrefix(body, "not ready: source ari: disconnected") {
		t.Errorf("plain /readyz: %q", body)
	}
	pbx.ComeBack()
	awaitReady(t, base, true, "")

	rdb.Stop()
	rep = awaitReady(t, base, false, "store")
	for _, c := range rep.Checks {
		if c.Name == "source ari" && !c.OK {
			t.Errorf("the source is reported down with the store: %+v", c)
		}
	}
	rdb.Restart(t)
	awaitReady(t, base, true, "")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// notifySocket listens where systemd would for sd_notify datagrams and
// hands each on.
func notifySocket(t *testing.T) <-chan string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	ch := make(chan string, 1000)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return ch
}

// awaitNotify reads datagrams until one starts with want; it fails on
// one starting with never first.
func awaitNotify(t *testing.T, ch <-chan string, want, never string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m := <-ch:
			if never != "" && strings.HasPrefix(m, never) {
				t.Fatalf("%q sent before %q", m, want)
			}
			if strings.HasPrefix(m, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q sent", want)
		}
	}
}

// READY=1 is sent only once the sources are connected and the store
// answers (the status line says what it waits for meanwhile); the watchdog
// is fed only while the engine and the store are alive.
func TestReadyAndWatchdog(t *testing.T) {
	notes := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "400000")
	pbx, err := fakeari.New(fakeari.Options{Username: "cb", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer pbx.Close()
	pbx.GoAway()
	rdb := redistest.Start(t)
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer crm.Close()
	dir := t.TempDir()
	var logs strings.Builder
	lw := &syncWriter{w: &logs}
	_, _, _, stop := runDaemon(t, dir, fmt.Sprintf(`
state_dir: %s
ari: {url: %s, username: cb, password: pw}
store: {type: redis, redis_url: "%s"}
crm:
  - {name: hook, type: webhook, webhook: {url: "%s", secret: webhook-secret-0123456789}}
`, dir, pbx.URL(), rdb.URL(), crm.URL), zerolog.New(lw))

	awaitNotify(t, notes, "STATUS=waiting for: source ari: disconnected", "READY=1")
	awaitNotify(t, notes, "WATCHDOG=1", "READY=1") // alive while waiting for the PBX
	pbx.ComeBack()
	awaitNotify(t, notes, "READY=1", "")

	rdb.Stop()
	awaitNotify(t, notes, "STATUS=degraded: store: unreachable", "")
	deadline := time.Now().Add(30 * time.Second)
	for {
		lw.mu.Lock()
		starved := strings.Contains(logs.String(), "watchdog not fed")
		lw.mu.Unlock()
		if starved {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watchdog was fed with the store down")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rdb.Restart(t)
	awaitNotify(t, notes, "STATUS=ready", "")
	awaitNotify(t, notes, "WATCHDOG=1", "")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	awaitNotify(t, notes, "STOPPING=1", "")
}
