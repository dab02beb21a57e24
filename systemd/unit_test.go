package systemd

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// parseUnit reads a unit file or drop-in into "Section.Key" -> values in
// order.
func parseUnit(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unit := map[string][]string{}
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
				t.Errorf("%s: not key=value: %q", path, line)
				continue
			}
			unit[section+"."+k] = append(unit[section+"."+k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return unit
}

// TestUnitFile keeps callbridge.service honest about what the daemon relies
// on: notify start-up, the watchdog RunWatchdog feeds, the reload signal,
// the package's user and the hardening promised in docs.
func TestUnitFile(t *testing.T) {
	unit := parseUnit(t, "callbridge.service")
	tests := []struct{ key, want string }{
		{"Service.Type", "notify"},
		{"Service.WatchdogSec", "30"},
		{"Service.Restart", "on-failure"},
		{"Service.ExecStart", "/usr/bin/callbridge run --config /etc/callbridge/callbridge.yaml"},
		{"Service.ExecReload", "/bin/kill -HUP $MAINPID"},
		{"Service.TimeoutStopSec", "30"},
		{"Service.User", "callbridge"},
		{"Service.Group", "callbridge"},
		{"Service.StateDirectory", "callbridge"},
		{"Service.StateDirectoryMode", "0750"},
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
	// Credentials are opt-in, one drop-in per secret: a LoadCredential=
	// here would keep every install without that file from starting.
	// DynamicUser= would make the user transient, so that it could not be
	// the group of /etc/callbridge the config is read through.
	for _, key := range []string{"Service.LoadCredential", "Service.SetCredential", "Service.DynamicUser"} {
		if v, ok := unit[key]; ok {
			t.Errorf("%s = %q: leave it out of the shipped unit", key, v)
		}
	}
}

// TestCredentialDropIns checks the drop-in examples the package ships:
// one per secret a config can name, each loading exactly the file its
// comment tells the operator to create, under the name the config uses.
func TestCredentialDropIns(t *testing.T) {
	want := map[string]string{ // drop-in -> the config key naming the credential
		"ari":      "password_file: ari-password",
		"ami":      "secret_file: ami-secret",
		"redis":    "redis_url_file: redis-url",
		"sip":      "password_file: sip-password",
		"webhook":  "secret_credential: webhook-secret",
		"dynamics": "client_secret_credential: dynamics-secret",
		"cel":      "password_credential: cel-password",
	}
	files, err := filepath.Glob("deb/credentials/*.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(want) {
		t.Errorf("drop-ins %q, want one for each of %d secrets", files, len(want))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".conf")
		key, ok := want[name]
		if !ok {
			t.Errorf("%s: no secret of that name", f)
			continue
		}
		cred := key[strings.Index(key, ": ")+2:]
		unit := parseUnit(t, f)
		if got, want := unit["Service.LoadCredential"], []string{cred + ":/etc/callbridge/" + cred}; !slices.Equal(got, want) {
			t.Errorf("%s: LoadCredential = %q, want %q", f, got, want)
		}
		if len(unit) != 1 {
			t.Errorf("%s sets %d keys, want LoadCredential= alone", f, len(unit))
		}
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{key, "install -m 0600 /dev/stdin /etc/callbridge/" + cred,
			"/usr/share/doc/callbridge/credentials/" + name + ".conf", "/etc/systemd/system/callbridge.service.d/" + name + ".conf"} {
			if !strings.Contains(string(text), s) {
				t.Errorf("%s does not say %q", f, s)
			}
		}
	}
}
