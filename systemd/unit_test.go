package systemd

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestUnitFile keeps callbridge.service honest about what the daemon relies
// on: notify start-up, the watchdog RunWatchdog feeds, the reload signal,
// credentials for *_file secrets and the hardening promised in docs.
func TestUnitFile(t *testing.T) {
	f, err := os.Open("callbridge.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unit := map[string][]string{} // "Section.Key" -> values in order
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Errorf("not key=value: %q", line)
				continue
			}
			unit[section+"."+k] = append(unit[section+"."+k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ key, want string }{
		{"Service.Type", "notify"},
		{"Service.WatchdogSec", "30"},
		{"Service.Restart", "on-failure"},
		{"Service.ExecStart", "/usr/bin/callbridge run --config /etc/callbridge/callbridge.yaml"},
		{"Service.ExecReload", "/bin/kill -HUP $MAINPID"},
		{"Service.TimeoutStopSec", "30"},
		{"Service.LoadCredential", "ari-password:/etc/callbridge/ari-password"},
		{"Service.DynamicUser", "yes"},
		{"Service.StateDirectory", "callbridge"},
		{"Service.ProtectSystem", "strict"},
		{"Service.ProtectHome", "yes"},
		{"Service.PrivateTmp", "yes"},
		{"Service.NoNewPrivileges", "yes"},
		{"Service.RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"Service.SystemCallFilter", "@system-service"},
		{"Service.CapabilityBoundingSet", ""},
		{"Service.MemoryDenyWriteExecute", "yes"},
		{"Install.WantedBy", "multi-user.target"},
	}
	for _, tt := range tests {
		if !slices.Contains(unit[tt.key], tt.want) {
			t.Errorf("%s = %q, want %q among them", tt.key, unit[tt.key], tt.want)
		}
	}
}
