package webhook_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/webhook"
)

// The webhook section's keys, each shown doing what docs/config.md says.

func push(t *testing.T, cfg webhook.Config) error {
	t.Helper()
	w, err := webhook.New("hook", cfg, webhook.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return w.Push(context.Background(), crmtest.Delivery("k1"))
}

var quiet = log.New(io.Discard, "", 0)

// writePEM writes a PEM block of typ into dir/name.
func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// webhook.headers: sent with every request.
func TestKeyHeaders(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Api-Key")
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	if err := push(t, webhook.Config{URL: srv.URL, Secret: secret, Headers: map[string]webhook.Secret{"X-Api-Key": "k3y-9f2c"}}); err != nil {
		t.Fatal(err)
	}
	if k := <-got; k != "k3y-9f2c" {
		t.Errorf("X-Api-Key %q", k)
	}
}

// webhook.timeout: a receiver that does not answer in time is a retryable
// failure, not a hang.
func TestKeyTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	err := push(t, webhook.Config{URL: srv.URL, Secret: secret, Timeout: 50 * time.Millisecond})
	if err == nil || crmerr.IsPermanent(err) || !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("push to a silent receiver: %v", err)
	}
}

// webhook.tls.ca_file trusts the receiver's CA; webhook.tls.server_name is
// the name checked in its certificate; webhook.tls.insecure_skip_verify
// checks nothing.
func TestKeyTLSServer(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	srv.Config.ErrorLog = quiet // the refused handshakes are the point
	srv.StartTLS()
	defer srv.Close()
	ca := writePEM(t, t.TempDir(), "ca.pem", "CERTIFICATE", srv.Certificate().Raw)
	tests := []struct {
		name string
		tls  webhook.TLSConfig
		ok   bool
	}{
		{"unknown CA", webhook.TLSConfig{}, false},
		{"ca_file", webhook.TLSConfig{CAFile: ca}, true},
		{"server_name in the certificate", webhook.TLSConfig{CAFile: ca, ServerName: "example.com"}, true},
		{"server_name not in the certificate", webhook.TLSConfig{CAFile: ca, ServerName: "crm.example.org"}, false},
		{"insecure_skip_verify", webhook.TLSConfig{InsecureSkipVerify: true}, true},
	}
	for _, tt := range tests {
		err := push(t, webhook.Config{URL: srv.URL, Secret: secret, TLS: tt.tls})
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

// webhook.tls.cert_file and key_file: the client certificate a receiver
// asking for mutual TLS gets.
func TestKeyTLSClientCertificate(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "callbridge"},
		NotBefore: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.Config.ErrorLog = quiet
	srv.StartTLS()
	defer srv.Close()
	dir := t.TempDir()
	ca := writePEM(t, dir, "ca.pem", "CERTIFICATE", srv.Certificate().Raw)
	certFile := writePEM(t, dir, "client.pem", "CERTIFICATE", der)
	kb, _ := x509.MarshalECPrivateKey(key)
	keyFile := writePEM(t, dir, "client.key", "EC PRIVATE KEY", kb)

	if err := push(t, webhook.Config{URL: srv.URL, Secret: secret, TLS: webhook.TLSConfig{CAFile: ca}}); err == nil {
		t.Error("a receiver requiring a client certificate accepted none")
	}
	if err := push(t, webhook.Config{URL: srv.URL, Secret: secret, TLS: webhook.TLSConfig{CAFile: ca, CertFile: certFile, KeyFile: keyFile}}); err != nil {
		t.Errorf("with cert_file and key_file: %v", err)
	}
}
