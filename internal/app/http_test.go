package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/fakeari"
)

// selfSigned writes a certificate for callbridge.test and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "callbridge.test"},
		DNSNames: []string{"callbridge.test"}, NotBefore: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// The listener as configured: HTTPS with http.tls, request headers
// limited (431), a health route left out of http.public closed to
// callers without a token, agent tokens reaching their own stream only.
func TestHTTPListener(t *testing.T) {
	srv, err := fakeari.New(fakeari.Options{Username: "cb", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	writeToken(t, dir, "admin.token", adminToken)
	writeToken(t, dir, "prom.token", "prometheus-token-0123456789")
	writeToken(t, dir, "alice.token", "alice-token-0123456789")
	d, _, _, _ := runDaemon(t, dir, fmt.Sprintf(`
state_dir: %s
ari: {url: %s, username: cb, password: pw}
users: [{extension: "101", token_file: alice.token}, {extension: "102"}]
http:
  listen: 127.0.0.1:0
  admin_token_file: admin.token
  dialplan_tokens: [{name: prometheus, token_file: prom.token}]
  public: [healthz]
  tls: {cert_file: %s, key_file: %s}
  limits: {max_header_bytes: 4096, max_body_bytes: 2048, streams_per_agent: 1}
`, dir, srv.URL(), certFile, keyFile), zerolog.Nop())
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "callbridge.test"}}}
	defer client.CloseIdleConnections()
	base := "https://" + d.Addr().String()
	status := func(path, token string, header map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tt := range []struct {
		path, token string
		header      map[string]string
		want        int
	}{
		{"/healthz", "", nil, 200},
		{"/metrics", "", nil, 401},
		{"/metrics", "prometheus-token-0123456789", nil, 200},
		{"/api/lookup?number=1", "", nil, 401}, // a dialplan token is configured
		{"/api/lookup?number=1", "prometheus-token-0123456789", nil, 200},
		{"/api/integrations", "prometheus-token-0123456789", nil, 403},
		{"/api/integrations", adminToken, nil, 200},
		{"/api/live?user=102", "alice-token-0123456789", nil, 403},
		{"/api/live?user=101", "alice-token-0123456789", nil, 200},
		{"/healthz", "", map[string]string{"X-Padding": strings.Repeat("x", 12<<10)}, 431},
	} {
		if got := status(tt.path, tt.token, tt.header); got != tt.want {
			t.Errorf("%s (token %q): %d, want %d", tt.path, tt.token, got, tt.want)
		}
	}
	// A body over max_body_bytes.
	resp, err := client.Post(base+"/api/session", "application/json", strings.NewReader(`{"token":"`+strings.Repeat("x", 4096)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("a body over max_body_bytes: %d", resp.StatusCode)
	}
	// Alice's one stream (streams_per_agent: 1) is open: a second is 429.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The table's stream was closed on this side; the server frees its
	// slot when it sees that, which may be a moment later.
	var first *http.Response
	for deadline := time.Now().Add(10 * time.Second); ; {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/live?user=101", nil)
		req.Header.Set("Authorization", "Bearer alice-token-0123456789")
		first, err = client.Do(req)
		if err != nil || first.StatusCode != http.StatusTooManyRequests || time.Now().After(deadline) {
			break
		}
		first.Body.Close()
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || first.StatusCode != 200 {
		t.Fatalf("first stream: %v %v", first, err)
	}
	defer first.Body.Close()
	if code := status("/api/live?user=101", "alice-token-0123456789", nil); code != 429 {
		t.Errorf("a second stream: %d, want 429", code)
	}
	if code := status("/api/live?user=101", adminToken, nil); code != 200 {
		t.Errorf("the admin's stream beside it: %d", code)
	}
	cancel()
	// Plain HTTP to the HTTPS listener is not served.
	if resp, err := http.Get("http://" + d.Addr().String() + "/healthz"); err == nil {
		if resp.StatusCode == 200 {
			t.Error("plain HTTP served")
		}
		resp.Body.Close()
	}
}
