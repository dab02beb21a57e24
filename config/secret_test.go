package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"

	"github.com/callbridge/callbridge/internal/secret"
)

const (
	ariPW  = "ari-hunter2-pw"
	amiPW  = "ami-hunter2-pw"
	hidden = "hunter2"
)

func secretConfig() *Config {
	c := valid()
	c.ARI.Password = ariPW
	c.AMI.Host = "127.0.0.1"
	c.AMI.Username = "u"
	c.AMI.Secret = amiPW
	return c
}

// TestSecretNeverPrinted tries every common way a config or a secret ends up
// in a log line or an error.
func TestSecretNeverPrinted(t *testing.T) {
	c := secretConfig()
	s := c.ARI.Password
	outputs := map[string]func() string{
		"fmt config": func() string { return fmt.Sprintf("%v %+v %#v", c, c, c) },
		"fmt value":  func() string { return fmt.Sprintf("%v %+v %#v", *c, *c, *c) },
		"fmt secret": func() string {
			return fmt.Sprintf("%v %+v %#v %s %q %x %X %d %-20s %.3s", s, s, s, s, s, s, s, s, s, s)
		},
		"fmt section": func() string {
			return fmt.Sprint(c.ARI, c.AMI) + fmt.Sprintf("%+v %#v", c.ARI, c.AMI)
		},
		"error wrap": func() string { return fmt.Errorf("connect %v: %w", c.AMI, fmt.Errorf("%s", s)).Error() },
		"json": func() string {
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		},
		"yaml": func() string {
			b, err := yaml.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		},
		"zerolog": func() string {
			var buf bytes.Buffer
			log := zerolog.New(&buf)
			log.Info().Interface("cfg", c).Any("ari", c.ARI).Stringer("pw", s).Interface("s", s).Msgf("%v %+v", c, s)
			log.Info().Fields(map[string]any{"ami": c.AMI, "pw": s}).Msg("")
			log.Info().Fields([]any{"pw", s}).Msg("")
			log.Info().Str("pw", s.String()).Msg(fmt.Sprint(s))
			return buf.String()
		},
		"slog": func() string {
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, nil))
			log.Info("x", "pw", s, "cfg", c)
			slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "pw", s, "ami", c.AMI)
			return buf.String()
		},
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			got := out()
			if strings.Contains(got, hidden) {
				t.Errorf("secret leaked: %s", got)
			}
			if !strings.Contains(got, secret.Redacted) && !strings.Contains(got, "\\u003csecret\\u003e") {
				t.Errorf("no %s mask in: %s", secret.Redacted, got)
			}
		})
	}
}

func TestSecretValue(t *testing.T) {
	s := Secret("x")
	if s.Value() != "x" {
		t.Errorf("Value() = %q", s.Value())
	}
	var empty Secret
	if got := fmt.Sprintf("[%v][%s][%q]", empty, empty, empty); got != `[][][""]` {
		t.Errorf("empty secret prints %s", got)
	}
	if b, _ := json.Marshal(empty); string(b) != `""` {
		t.Errorf("empty secret JSON %s", b)
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	creds := t.TempDir()
	write := func(dir, name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	abs := write(t.TempDir(), "abs", "abs-pw\n")
	write(dir, "beside", "beside-pw\r\n")
	write(creds, "beside", "creds-pw")
	write(creds, "only-creds", "creds-only-pw\n\n")
	write(dir, "empty", "\n")
	write(dir, "ami", "ami-pw")

	base := "ari: {url: 'http://127.0.0.1:8088/ari', username: u, password_file: %q}\n"
	tests := []struct {
		name, file, creds string
		want              string
		err               string
	}{
		{"absolute", abs, "", "abs-pw", ""},
		{"absolute ignores credentials dir", abs, creds, "abs-pw", ""},
		{"relative beside config, CRLF dropped", "beside", "", "beside-pw", ""},
		{"relative from credentials dir", "beside", creds, "creds-pw", ""},
		{"one line end dropped only", "only-creds", creds, "creds-only-pw\n", ""},
		{"missing", "nope", creds, "", `ari.password_file: reading "` + filepath.Join(creds, "nope") + `": no such file or directory`},
		{"empty", "empty", "", "", `ari.password_file: "` + filepath.Join(dir, "empty") + `" is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := func(k string) string {
				if k == "CREDENTIALS_DIRECTORY" {
					return tt.creds
				}
				return ""
			}
			c, err := load(fmt.Appendf(nil, base, tt.file), dir, env)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.ARI.Password.Value() != tt.want {
				t.Errorf("password = %q, want %q", c.ARI.Password.Value(), tt.want)
			}
			if c.ARI.PasswordFile != tt.file {
				t.Errorf("password_file = %q, want it kept as %q", c.ARI.PasswordFile, tt.file)
			}
		})
	}

	t.Run("ami secret_file", func(t *testing.T) {
		c, err := load([]byte("ami: {host: pbx, username: u, secret_file: ami}\n"), dir, noEnv)
		if err != nil || c.AMI.Secret.Value() != "ami-pw" {
			t.Fatalf("err %v, secret %q", err, c.AMI.Secret.Value())
		}
	})
	t.Run("sip hep_auth_key_file", func(t *testing.T) {
		c, err := load([]byte("sip: {hep_listen_udp: ['127.0.0.1:9060'], hep_auth_key_file: ami}\n"), dir, noEnv)
		if err != nil || c.SIP.HEPAuthKey.Value() != "ami-pw" {
			t.Fatalf("err %v, key %q", err, c.SIP.HEPAuthKey.Value())
		}
	})
	t.Run("off source file not read", func(t *testing.T) {
		if _, err := load([]byte("ami: {username: u, secret_file: nope}\n"), dir, noEnv); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("error never carries content", func(t *testing.T) {
		// A secret file given where a directory is expected must not
		// surface its content; neither must a failed validation.
		p := write(dir, "leaky", hidden+"\n")
		_, err := load(fmt.Appendf(nil, "ari: {url: 'ftp://x', username: u, password_file: %q}\nlog_level: %q\n", p, "x"), dir, noEnv)
		if err == nil || strings.Contains(err.Error(), hidden) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestLoadWithSystemdCredentials runs the real Load with the environment
// systemd gives a unit that has LoadCredential=.
func TestLoadWithSystemdCredentials(t *testing.T) {
	creds := t.TempDir()
	if err := os.WriteFile(filepath.Join(creds, "ari-password"), []byte("from-systemd\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "callbridge.yaml")
	data := "ari:\n  url: http://127.0.0.1:8088/ari\n  username: callbridge\n  password_file: ari-password\n"
	if err := os.WriteFile(cfg, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	c, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.ARI.Password.Value() != "from-systemd" {
		t.Errorf("password %q", c.ARI.Password.Value())
	}
}

// TestSecretScalarsVerbatim: a password that looks like a number, a bool or
// a time must reach the peer exactly as written, not as YAML reads it.
func TestSecretScalarsVerbatim(t *testing.T) {
	for _, v := range []string{"0123", "yes", "1e3", "0x1F", "12:30", ".inf", "'~'"} {
		c, err := load([]byte("ari: {url: 'http://x/ari', username: u, password: "+v+"}\n"), t.TempDir(), noEnv)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if got, want := c.ARI.Password.Value(), strings.Trim(v, "'"); got != want {
			t.Errorf("password %s read as %q", v, got)
		}
	}
}

// Every *_file key of a source or the store is read into its secret, and
// only while that part is on.
func TestSecretFileKeys(t *testing.T) {
	dir := t.TempDir()
	for name, v := range map[string]string{"ari": "ari-pw", "ami": "ami-pw", "redis": "redis://:r-pw@127.0.0.1:6379/0", "sub": "sub-pw"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	on := `ari: {url: 'http://127.0.0.1:8088/ari', username: u, password_file: ari}
ami: {host: 127.0.0.1, username: u, secret_file: ami}
store: {type: redis, redis_url_file: redis}
sip: {subscribe: {pbx: '127.0.0.1:5060', allowed_sources: ['127.0.0.1'], extensions: ['101'], username: u, password_file: sub}}
`
	c, err := load([]byte(on), dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	for key, got := range map[string]Secret{"ari.password_file": c.ARI.Password, "ami.secret_file": c.AMI.Secret,
		"store.redis_url_file": c.Store.RedisURL, "sip.subscribe.password_file": c.SIP.Subscribe.Password} {
		if want := map[string]string{"ari.password_file": "ari-pw", "ami.secret_file": "ami-pw",
			"store.redis_url_file": "redis://:r-pw@127.0.0.1:6379/0", "sip.subscribe.password_file": "sub-pw"}[key]; got.Value() != want {
			t.Errorf("%s: read %q, want %q", key, got.Value(), want)
		}
	}
	// Off: the files are not read (here they would not exist).
	off := "ami: {secret_file: nope}\nsip: {subscribe: {password_file: nope}}\nstore: {redis_url_file: ''}\n"
	if _, err := load([]byte(off), dir, noEnv); err != nil {
		t.Errorf("an unused part's secret file was read: %v", err)
	}
}
