package app_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/app"
)

// A start that fails after the store was opened (here: the HTTP port is
// taken) closes the store again: the embedded store is one process's, so
// a store left open would lock out the next start and every queue command.
func TestFailedStartClosesStore(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "callbridge.yaml")
	yaml := fmt.Sprintf(`
state_dir: %s
ari: {url: "http://127.0.0.1:1/ari", username: cb, password: pw}
http: {listen: %q}
crm:
  - type: webhook
    webhook: {url: "http://127.0.0.1:1/hook", secret: s}
`, dir, busy.Addr().String())
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
	if _, err := app.New(cfg, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "http.listen") {
		t.Fatalf("New with the HTTP port taken: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	store, err := app.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatalf("the failed start left the store open: %v", err)
	}
	defer store.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("opening the store took %v: it waited for a lock", d)
	}
}
