package main

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync/dynamics/fakedataverse"
	"github.com/callbridge/callbridge/internal/app"
)

// The integrations commands drive caller recognition in a running daemon.
func TestIntegrationsCommands(t *testing.T) {
	ariSrv, err := fakeari.New(fakeari.Options{Username: "cb", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer ariSrv.Close()
	dv := httptest.NewUnstartedServer(nil)
	dv.Start()
	defer dv.Close()
	fake := fakedataverse.New(fakedataverse.Options{ClientID: "app", ClientSecret: "dv-secret", Scope: dv.URL + "/.default"})
	dv.Config.Handler = fake
	fake.AddUser(fakedataverse.SystemUser{ID: "00000000-0000-4000-8000-00000000a11c", Email: "alice@example.com", FullName: "Alice"})
	fake.AddRecord("contacts", fakedataverse.Record{"contactid": "00000000-0000-4000-8000-00000000c0c0", "fullname": "Maija", "mobilephone": "040 123 4567"})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
state_dir: %s
ari: {url: %s, username: cb, password: pw}
http: {listen: "%s", admin_token_file: admin.token}
users:
  - {extension: "101", email: alice@example.com}
  - {extension: "102", email: nobody@example.com}
crm:
  - type: dynamics
    dynamics: {url: %s, tenant_id: t, token_url: %s/t/token, client_id: app, client_secret: dv-secret}
    recognition: {region: FI, enabled: true}
`, dir, ariSrv.URL(), addr, dv.URL, dv.URL)), 0o600)
	os.WriteFile(filepath.Join(dir, "admin.token"), []byte("cli-admin-token-0123456789\n"), 0o600)

	if code, _, errOut := call(t, "integrations", "status", "--config", cfgPath); code != 1 || !strings.Contains(errOut, "is it running?") {
		t.Fatalf("no daemon: %d %q", code, errOut)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	d, err := app.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(20 * time.Second)
	for {
		_, out, _ := call(t, "integrations", "status", "--config", cfgPath)
		if strings.Contains(out, "dynamics  true     1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed the synced record:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A config without the admin token is told what to set.
	noToken := filepath.Join(dir, "no-token.yaml")
	b, _ := os.ReadFile(cfgPath)
	os.WriteFile(noToken, []byte(strings.Replace(string(b), ", admin_token_file: admin.token", "", 1)), 0o600)
	if code, _, errOut := call(t, "integrations", "status", "--config", noToken); code != 1 || !strings.Contains(errOut, "set http.admin_token_file") {
		t.Fatalf("without the token: %d %q", code, errOut)
	}
	if code, out, errOut := call(t, "integrations", "disable", "dynamics", "--config", cfgPath); code != 0 || !strings.Contains(out, "dynamics  false") {
		t.Fatalf("disable: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := call(t, "integrations", "full-sync", "dynamics", "--config", cfgPath); code != 0 || !strings.Contains(out, "dynamics") {
		t.Fatalf("full-sync: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := call(t, "integrations", "enable", "nope", "--config", cfgPath); code != 1 || !strings.Contains(errOut, "404") {
		t.Fatalf("unknown integration: %d %q", code, errOut)
	}
	if code, out, errOut := call(t, "users", "sync", "--config", cfgPath); code != 0 || !strings.Contains(out, "dynamics: 101 mapped by directory") || !strings.Contains(out, "dynamics: 102 UNMAPPED") {
		t.Fatalf("users sync: %d %q %q", code, out, errOut)
	}
	if code, out, _ := call(t, "integrations", "delete", "dynamics", "--config", cfgPath); code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("delete: %d %q", code, out)
	}
	if code, _, _ := call(t, "integrations", "sync", "--config", cfgPath); code != 2 {
		t.Fatalf("sync without a name: %d", code)
	}
}
