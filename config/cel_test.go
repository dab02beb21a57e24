package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari/cel"
)

const ariOK = "ari: {url: 'http://127.0.0.1:8088/ari', username: u, password: p}\n"

// The cel: section is read into cel.Config and checked with its own
// rules, each problem under cel.; with no type it is off and not checked.
func TestCELSection(t *testing.T) {
	c, err := load([]byte(ariOK+"cel: {type: csv, file: /var/log/asterisk/cel-custom/Master.csv, time_zone: UTC, margin: 30s}\n"), t.TempDir(), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := cel.Config{Type: cel.TypeCSV, File: "/var/log/asterisk/cel-custom/Master.csv", TimeZone: "UTC", Margin: 30 * time.Second}
	if !c.CELOn() || c.CEL.Type != want.Type || c.CEL.File != want.File || c.CEL.TimeZone != want.TimeZone || c.CEL.Margin != want.Margin {
		t.Fatalf("cel = %+v", c.CEL)
	}
	if c, err := load([]byte(ariOK+"cel: {dsn: 'not checked', margin: 1m}\n"), t.TempDir(), noEnv); err != nil || c.CELOn() {
		t.Fatalf("a section without a type: on %v, %v", c != nil && c.CELOn(), err)
	}
	for yaml, wantErr := range map[string]string{
		"cel: {type: csv}":    "cel.file: required with type csv",
		"cel: {type: oracle}": `cel.type: "oracle": want csv, postgres or mysql`,
		"cel: {type: mysql, dsn: 'u:pw@tcp(pbx:3306)/asteriskcdrdb'}":                 "cel.dsn: holds a password",
		"cel: {type: csv, file: x, time_zone: Mars/Base}":                             "cel.time_zone",
		"cel: {type: csv, file: x, margin: 48h}":                                      "cel.margin",
		"cel: {type: postgres, dsn: 'host=pbx', password: a, password_credential: b}": "cel.password: set only one",
	} {
		_, err := load([]byte(ariOK+yaml+"\n"), t.TempDir(), noEnv)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: %v, want %q", yaml, err, wantErr)
		}
	}
	if _, err := load([]byte(ariOK+"cel: {type: csv, file: x, colour: blue}\n"), t.TempDir(), noEnv); err == nil || !strings.Contains(err.Error(), "cel.colour: unknown key") {
		t.Errorf("unknown key: %v", err)
	}
}

// cel.password_file is read like every *_file key: a relative name next to
// the config file, or from $CREDENTIALS_DIRECTORY under systemd; the
// password then stands alone, and a missing file is an error naming the
// key. cel.password_credential is read as the tokens' *_credential keys
// are, from $CREDENTIALS_DIRECTORY only. Either way the password is among
// the config's Secrets, which never reach a log.
func TestCELPasswordFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cel-pw"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	section := "cel: {type: postgres, dsn: 'host=pbx dbname=asterisk user=callbridge', password_file: cel-pw}\n"
	c, err := load([]byte(ariOK+section), dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.CEL.Password.Value() != "s3cret" || c.CEL.PasswordFile != "" {
		t.Fatalf("password %q, file %q", c.CEL.Password.Value(), c.CEL.PasswordFile)
	}
	creds := t.TempDir()
	if err := os.WriteFile(filepath.Join(creds, "cel-pw"), []byte("from-systemd"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == "CREDENTIALS_DIRECTORY" {
			return creds
		}
		return ""
	}
	if c, err := load([]byte(ariOK+section), dir, env); err != nil || c.CEL.Password.Value() != "from-systemd" {
		t.Fatalf("under systemd: %v", err)
	}
	if _, err := load([]byte(ariOK+section), t.TempDir(), noEnv); err == nil || !strings.Contains(err.Error(), "cel.password_file") {
		t.Errorf("missing file: %v", err)
	}
	credential := "cel: {type: postgres, dsn: 'host=pbx', password_credential: cel-pw}\n"
	c, err = load([]byte(ariOK+credential), dir, env)
	if err != nil || c.CEL.Password.Value() != "from-systemd" || c.CEL.PasswordCredential != "" {
		t.Fatalf("credential: %+v, %v", c.CEL, err)
	}
	if !slices.Contains(c.Secrets(), NamedSecret{Key: "cel.password", Value: "from-systemd"}) {
		t.Errorf("secrets %v lack cel.password", c.Secrets())
	}
	if _, err := load([]byte(ariOK+credential), dir, noEnv); err == nil ||
		!strings.Contains(err.Error(), "cel.password_credential: $CREDENTIALS_DIRECTORY is not set") {
		t.Errorf("credential outside systemd: %v", err)
	}
}

// store.wait_replicas and store.wait_timeout: only with Redis, in range.
func TestStoreWait(t *testing.T) {
	redis := "store: {type: redis, redis_url: 'redis://127.0.0.1:6379/0', wait_replicas: %s, wait_timeout: %s}\n"
	c, err := load([]byte(ariOK+strings.NewReplacer("%s", "1").Replace(strings.Replace(redis, "%s", "1", 1))), t.TempDir(), noEnv)
	if err == nil || !strings.Contains(err.Error(), "store.wait_timeout") {
		t.Errorf("a bare number as timeout: %v", err)
	}
	c, err = load([]byte(ariOK+strings.Replace(strings.Replace(redis, "%s", "1", 1), "%s", "500ms", 1)), t.TempDir(), noEnv)
	if err != nil || c.Store.WaitReplicas != 1 || c.Store.WaitTimeout != 500*time.Millisecond {
		t.Fatalf("%+v, %v", c.Store, err)
	}
	if c, _ := load([]byte(ariOK), t.TempDir(), noEnv); c.Store.WaitReplicas != 0 || c.Store.WaitTimeout != DefaultWaitTimeout {
		t.Errorf("defaults %+v", c.Store)
	}
	for _, bad := range []string{"-1", "17"} {
		if _, err := load([]byte(ariOK+strings.Replace(strings.Replace(redis, "%s", bad, 1), "%s", "1s", 1)), t.TempDir(), noEnv); err == nil || !strings.Contains(err.Error(), "store.wait_replicas") {
			t.Errorf("wait_replicas %s: %v", bad, err)
		}
	}
	if _, err := load([]byte(ariOK+"store: {wait_replicas: 1}\n"), t.TempDir(), noEnv); err == nil || !strings.Contains(err.Error(), "store.wait_replicas: only with store.type redis") {
		t.Errorf("embedded: %v", err)
	}
}
