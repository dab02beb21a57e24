package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/crmsync/store/redis/redistest"
	"github.com/callbridge/callbridge/internal/app/demo"
)

// lockedBuffer is stderr as several goroutines write it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// daemon runs `callbridge run --config path` until the test's end or
// stop; stderr collects its log.
func daemon(t *testing.T, path string) (stderr *lockedBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"run", "--config", path}, &bytes.Buffer{}, stderr) }()
	var once sync.Once
	code := 0
	stop = func() int {
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	t.Cleanup(func() { stop() })
	return stderr, stop
}

func waitLog(t *testing.T, stderr *lockedBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", want, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func selfSignedCert(t *testing.T, dir string) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "callbridge.test"}, DNSNames: []string{"callbridge.test"},
		NotBefore: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	kb, _ := x509.MarshalECPrivateKey(key)
	cert, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, keyFile
}

// Every line the daemon writes is JSON, whichever library wrote it:
// go-redis (its pool losing Redis), sipgo (a datagram it cannot parse),
// net/http (a TLS handshake that fails), ari/v5's log15 loggers, slog's
// and the standard log package's defaults. A failed push is a warning
// with the connector, the attempt, the CRM's reason and a retry_in with
// its unit.
func TestEveryLogLineIsJSON(t *testing.T) {
	recs, err := demo.Recordings()
	if err != nil {
		t.Fatal(err)
	}
	pbx, err := fakeari.New(fakeari.Options{Recordings: recs, AwaitList: true, Username: "cb", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer pbx.Close()
	rdb := redistest.Start(t)
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "CRM is down for maintenance", http.StatusServiceUnavailable)
	}))
	defer crm.Close()
	dir := t.TempDir()
	cert, key := selfSignedCert(t, dir)
	listen, notifyAt := freePort(t, "tcp"), freePort(t, "udp")
	path := filepath.Join(dir, "callbridge.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`
state_dir: %s
ari: {url: %s, username: cb, password: pw}
trunks: [pstn]
store: {type: redis, redis_url: "%s"}
http: {listen: "%s", tls: {cert_file: %s, key_file: %s}}
sip:
  subscribe: {pbx: "%s", listen: "%s", extensions: ["101"]}
delivery: {backoff_min: 1500ms, backoff_max: 3s, poll_interval: 50ms}
crm:
  - {name: hook, type: webhook, webhook: {url: "%s", secret: webhook-secret-0123456789}}
`, dir, pbx.URL(), rdb.URL(), listen, cert, key, freePort(t, "udp"), notifyAt, crm.URL)), 0o600)
	stderr, stop := daemon(t, path)
	waitLog(t, stderr, "callbridge ready")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pbx.Play(ctx); err != nil {
		t.Fatal(err)
	}
	waitLog(t, stderr, "push failed; will retry")
	// sipgo: a datagram that is not SIP, on the NOTIFY listener.
	if c, err := net.Dial("udp", notifyAt); err == nil {
		c.Write([]byte("this is not SIP at all\r\n\r\n"))
		c.Close()
	}
	waitLog(t, stderr, `"component":"sipgo"`)
	// net/http: plain text to the TLS listener.
	if c, err := net.Dial("tcp", listen); err == nil {
		c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		bufio.NewReader(c).ReadString('\n')
		c.Close()
	}
	waitLog(t, stderr, `"component":"net/http"`)
	ariv5.Logger.Warn("probe from ari/v5", "channel", "PJSIP/101-1")
	slog.Warn("probe from slog")
	log.Print("probe from the log package")
	// go-redis: Redis goes away under the pool.
	rdb.Kill()
	waitLog(t, stderr, `"component":"go-redis"`)
	stop()

	components := map[string]bool{}
	retry := false
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("not JSON: %s", line)
			continue
		}
		if c, ok := m["component"].(string); ok {
			components[c] = true
		}
		if m["message"] == "push failed; will retry" {
			retry = true
			if m["level"] != "warn" || m["connector"] != "hook" || m["attempt"] == nil || !strings.Contains(fmt.Sprint(m["error"]), "503") {
				t.Errorf("failed push: %s", line)
			}
			if d, ok := m["retry_in"].(string); !ok || !strings.HasSuffix(d, "s") {
				t.Errorf("retry_in without a unit: %s", line)
			}
		}
	}
	for _, c := range []string{"go-redis", "sipgo", "net/http", "ari/v5", "slog", "log"} {
		if !components[c] {
			t.Errorf("no line from %s", c)
		}
	}
	if !retry {
		t.Error("no failed push logged")
	}
}

// logrotate renames sink.file and sends SIGHUP (systemctl reload): the
// daemon writes on into a new file at the path.
func TestSinkReopensOnSIGHUP(t *testing.T) {
	recs, err := demo.Recordings()
	if err != nil {
		t.Fatal(err)
	}
	pbx, err := fakeari.New(fakeari.Options{Recordings: recs, AwaitList: true, Username: "cb", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer pbx.Close()
	dir := t.TempDir()
	sink := filepath.Join(dir, "activities.jsonl")
	path := filepath.Join(dir, "callbridge.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`
state_dir: %s
ari: {url: %s, username: cb, password: pw}
trunks: [pstn]
http: {listen: ""}
sink: {file: %s}
`, dir, pbx.URL(), sink)), 0o600)
	stderr, stop := daemon(t, path)
	waitLog(t, stderr, "callbridge ready")
	lines := func(p string) int {
		b, _ := os.ReadFile(p)
		return bytes.Count(b, []byte("\n"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	awaitLines := func(p string, n int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); lines(p) < n; {
			if time.Now().After(deadline) {
				t.Fatalf("%s has %d lines, want %d", p, lines(p), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := pbx.Play(ctx); err != nil {
		t.Fatal(err)
	}
	awaitLines(sink, 14)
	if err := os.Rename(sink, sink+".1"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, stderr, "reload: configuration applied")
	if err := pbx.Play(ctx); err != nil {
		t.Fatal(err)
	}
	awaitLines(sink, 14)
	if code := stop(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	if n, m := lines(sink+".1"), lines(sink); n != 14 || m != 14 {
		t.Errorf("rotated file %d lines, new file %d; want 14 each", n, m)
	}
}
