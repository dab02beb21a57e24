package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/config"
)

// A reload of the directory reaches the calls read from CEL as it reaches
// the live engines, so both make the same activities of a call; a change
// of the cel: section itself waits for a restart, with the warning every
// such key gives.
func TestReloadCEL(t *testing.T) {
	dir := t.TempDir()
	rows, err := os.ReadFile("../../testdata/recordings/inbound_answered/cel.csv")
	if err != nil {
		t.Fatal(err)
	}
	celPath := filepath.Join(dir, "Master.csv")
	if err := os.WriteFile(celPath, rows, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "callbridge.yaml")
	write := func(name, margin string) {
		t.Helper()
		yaml := fmt.Sprintf(`state_dir: %s
ari: {url: "http://127.0.0.1:9/ari", username: cb, password: pw}
http: {listen: ""}
trunks: [pstn]
users: [{extension: "101", name: %q}]
cel: {type: csv, file: %s, time_zone: UTC, margin: %s}
`, dir, name, celPath, margin)
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("Alice Andersson", "1m")
	cfg, err := config.Check(path, config.SystemEnv())
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	a, err := New(cfg, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	defer a.opened.close()
	a.ConfigPath = path
	ctx := context.Background()
	// The recording's whole call, as a gap around it reads it.
	from := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	names := func() []string {
		t.Helper()
		g, err := a.history.Gap(ctx, from, from.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range g.Calls {
			for _, act := range c.Activities {
				out = append(out, act.User+" "+act.UserName)
			}
		}
		return out
	}
	if got := names(); len(got) != 1 || got[0] != "101 Alice Andersson" {
		t.Fatalf("before the reload: %q", got)
	}
	write("Alice Berg", "5m")
	if err := a.ReloadNow(ctx); err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 1 || got[0] != "101 Alice Berg" {
		t.Errorf("after the reload: %q, want the new directory's name", got)
	}
	if a.history.margin != time.Minute || a.cfg.CEL.Margin != time.Minute {
		t.Errorf("cel.margin %v (config %v) after the reload, want the running 1m", a.history.margin, a.cfg.CEL.Margin)
	}
	if !strings.Contains(logs.String(), `"key":"cel","message":"reload: this change takes effect on restart; the running value is kept"`) {
		t.Errorf("no restart warning for cel in:\n%s", logs.String())
	}
}
