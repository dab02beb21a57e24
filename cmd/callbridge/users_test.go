package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/callbridge/callbridge/ari/ami/fakeami"
	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/config"
)

// pbx is a fake Asterisk with extensions, a trunk, a non-extension
// endpoint and caller ids for some.
func pbx(t *testing.T) *fakeari.Server {
	t.Helper()
	s, err := fakeari.New(fakeari.Options{
		Username: "importer", Password: "import-secret-123",
		Endpoints: []string{"PJSIP/102", "PJSIP/101", "PJSIP/pstn", "PJSIP/1000", "PJSIP/99", "PJSIP/reception", "SIP/101"},
		CallerIDs: map[string]string{"101": `"Alice Andersson" <101>`, "102": "<102>", "99": "Night Line <99>"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	return s
}

// writeConfig writes a config for s with extra appended.
func writeConfig(t *testing.T, s *fakeari.Server, password, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "callbridge.yaml")
	text := "# The office PBX.\nari:\n  url: " + s.URL() + "\n  username: " + s.Username() + "\n  password: " + password + "\ntrunks: [pstn]\n" + extra
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func decodeUsers(t *testing.T, text string) []config.User {
	t.Helper()
	var v struct {
		Users []config.User `yaml:"users"`
	}
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, text)
	}
	return v.Users
}

func extensions(us []config.User) string {
	var s []string
	for _, u := range us {
		s = append(s, u.Extension+"="+u.Name)
	}
	return strings.Join(s, " ")
}

func TestUsersImportStub(t *testing.T) {
	s := pbx(t)
	path := writeConfig(t, s, s.Password(), "")
	code, out, errOut := call(t, "users", "import", "--config", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// The trunk and the non-numeric endpoint are left out, SIP/101 is the
	// same user as PJSIP/101, numbers sort numerically, and the caller id
	// name is taken when it is more than the number.
	if got, want := extensions(decodeUsers(t, out)), "99=Night Line 101=Alice Andersson 102= 1000="; got != want {
		t.Errorf("users = %q, want %q\n%s", got, want, out)
	}
	if !strings.Contains(out, `extension: "101"`) || !strings.Contains(out, `email: ""`) {
		t.Errorf("extensions must be quoted and e-mail present to fill in:\n%s", out)
	}
	if strings.Contains(out+errOut, s.Password()) {
		t.Error("the password appears in the output")
	}
}

func TestUsersImportMerge(t *testing.T) {
	s := pbx(t)
	existing := `users:
  - extension: "101"
    name: Alice A.   # keep as written
    email: alice@example.com
  - extension: "500"
    name: Desk
    endpoints: ["99"]
log_level: debug
`
	path := writeConfig(t, s, s.Password(), existing)
	out := filepath.Join(t.TempDir(), "merged.yaml")
	code, stdout, errOut := call(t, "users", "import", "--config", path, "--merge", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout, errOut)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("merged file mode %v, want 0600: it holds the config's secrets", fi.Mode().Perm())
	}
	merged := string(b)
	// 101 is kept as it was; 99 is claimed by 500's endpoints; 102 and
	// 1000 are new.
	if got, want := extensions(decodeUsers(t, merged)), "101=Alice A. 500=Desk 102= 1000="; got != want {
		t.Errorf("users = %q, want %q\n%s", got, want, merged)
	}
	for _, keep := range []string{"# The office PBX.", "# keep as written", "log_level: debug", "alice@example.com", "password: " + s.Password()} {
		if !strings.Contains(merged, keep) {
			t.Errorf("merged file lost %q:\n%s", keep, merged)
		}
	}
	// The result is a valid config.
	if code, _, errOut := call(t, "config", "check", "--config", out); code != 0 {
		t.Errorf("config check of the merged file: %s", errOut)
	}
	// The merged file holds the inline password: never printed.
	if code, stdout, errOut := call(t, "users", "import", "--config", out, "--merge"); code != 2 || stdout != "" ||
		strings.Contains(errOut, s.Password()) || !strings.Contains(errOut, "inline secret ari.password: write it with --out FILE") {
		t.Errorf("merge to stdout: %d %q %q", code, stdout, errOut)
	}
	// Merging again adds nothing.
	out2 := filepath.Join(t.TempDir(), "again.yaml")
	code, _, errOut = call(t, "users", "import", "--config", out, "--merge", "--out", out2)
	if code != 0 {
		t.Fatalf("second merge: exit %d: %s", code, errOut)
	}
	b, _ = os.ReadFile(out2)
	again := string(b)
	if got, want := extensions(decodeUsers(t, again)), "101=Alice A. 500=Desk 102= 1000="; got != want {
		t.Errorf("second merge: users = %q, want %q", got, want)
	}
}

// An empty or missing users: list is created; a flow-style one grows.
func TestUsersImportMergeNoUsers(t *testing.T) {
	s := pbx(t)
	for name, extra := range map[string]string{"missing": "", "empty flow": "users: []\n", "null": "users:\n"} {
		t.Run(name, func(t *testing.T) {
			path := writeConfig(t, s, s.Password(), extra)
			file := filepath.Join(t.TempDir(), "merged.yaml")
			code, _, errOut := call(t, "users", "import", "--config", path, "--merge", "--out", file)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			b, _ := os.ReadFile(file)
			out := string(b)
			if got, want := extensions(decodeUsers(t, out)), "99=Night Line 101=Alice Andersson 102= 1000="; got != want {
				t.Errorf("users = %q, want %q\n%s", got, want, out)
			}
		})
	}
}

func TestUsersImportErrors(t *testing.T) {
	s := pbx(t)
	dup := writeConfig(t, s, s.Password(), "users:\n  - extension: \"101\"\n  - extension: \"101\"\n")
	badPass := writeConfig(t, s, "wrong-secret-456", "")
	noSource := filepath.Join(t.TempDir(), "none.yaml")
	os.WriteFile(noSource, []byte("log_level: info\n"), 0o600)
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"no subcommand", []string{"users"}, 2, "users import"},
		{"unknown subcommand", []string{"users", "export"}, 2, "users import"},
		{"stray argument", []string{"users", "import", "--config", dup, "x"}, 2, "unexpected argument"},
		{"duplicate names both entries", []string{"users", "import", "--config", dup, "--merge"}, 1, `users[1].extension: "101" is also users[0].extension`},
		{"refused credentials", []string{"users", "import", "--config", badPass}, 1, "HTTP 401 (check ari.username and ari.password)"},
		{"no PBX interface", []string{"users", "import", "--config", noSource}, 1, "over ARI or AMI"},
		{"missing config", []string{"users", "import", "--config", filepath.Join(t.TempDir(), "none.yaml")}, 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := call(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, want %d; stderr %q, want it to contain %q", code, tt.code, errOut, tt.want)
			}
			if strings.Contains(errOut, "wrong-secret-456") || strings.Contains(errOut, s.Password()) {
				t.Errorf("a password appears in the error: %s", errOut)
			}
		})
	}
}

// On an installation with AMI only, the endpoints come from
// PJSIPShowEndpoints.
func TestUsersImportOverAMI(t *testing.T) {
	srv, err := fakeami.Start(fakeami.Config{Username: "cb", Secret: "ami-secret-789", Endpoints: []string{"103", "101", "pstn", "12345678"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "ami.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf("ami:\n  host: 127.0.0.1\n  port: %d\n  username: cb\n  secret: ami-secret-789\ntrunks: [pstn]\n", srv.Port())), 0o600)
	code, out, errOut := call(t, "users", "import", "--config", path)
	if code != 0 {
		t.Fatalf("%d %s", code, errOut)
	}
	// 101 and 103 match the extension pattern; the trunk and the 8-digit
	// name do not.
	if !strings.Contains(out, `extension: "101"`) || !strings.Contains(out, `extension: "103"`) || strings.Contains(out, "pstn") || strings.Contains(out, "12345678") {
		t.Fatalf("stub:\n%s", out)
	}
	if strings.Index(out, `"101"`) > strings.Index(out, `"103"`) {
		t.Errorf("not sorted:\n%s", out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte(fmt.Sprintf("ami:\n  host: 127.0.0.1\n  port: %d\n  username: cb\n  secret: wrong-ami-secret\n", srv.Port())), 0o600)
	if code, _, errOut := call(t, "users", "import", "--config", bad); code != 1 || strings.Contains(errOut, "wrong-ami-secret") {
		t.Fatalf("bad secret: %d %q", code, errOut)
	}
}

// A PBX endpoint whose name the config could not hold is an error naming
// the key, not a broken file.
func TestUsersImportInvalidExtension(t *testing.T) {
	s, err := fakeari.New(fakeari.Options{Endpoints: []string{"PJSIP/a@b"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	path := writeConfig(t, s, s.Password(), `extension_pattern: "^.+$"`+"\n")
	code, out, errOut := call(t, "users", "import", "--config", path)
	if code != 1 || !strings.Contains(errOut, "users[0].extension") {
		t.Errorf("exit %d; stdout %q; stderr %q", code, out, errOut)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}
