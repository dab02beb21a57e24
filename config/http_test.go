package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	tokA = "token-a-0123456789abcdef"
	tokB = "token-b-0123456789abcdef"
	tokC = "token-c-0123456789abcdef"
)

// loadIn loads yaml from a directory holding the named token files, with
// env as the environment.
func loadIn(t *testing.T, yaml string, files map[string]string, env map[string]string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	getenv := func(k string) string {
		if k == "CREDENTIALS_DIRECTORY" && env[k] == "here" {
			return dir
		}
		return env[k]
	}
	return load([]byte(strings.ReplaceAll(yaml, "\t", "  ")), dir, getenv)
}

// Each token key fills the token it names: from a file next to the config,
// or from $CREDENTIALS_DIRECTORY for a file or a credential name.
func TestTokensLoad(t *testing.T) {
	yaml := `
http:
	listen: 127.0.0.1:9089
	admin_token_file: admin
	dialplan_tokens:
		- {name: asterisk, token_file: dp}
		- {name: monitoring, token_credential: mon}
users:
	- {extension: "101", token_file: alice}
	- {extension: "102"}
`
	c, err := loadIn(t, yaml, map[string]string{"admin": tokA, "dp": tokB, "mon": "token-m-0123456789abcdef", "alice": tokC}, map[string]string{"CREDENTIALS_DIRECTORY": "here"})
	if err != nil {
		t.Fatal(err)
	}
	h := c.HTTP
	if h.AdminToken.Value() != tokA || h.DialplanTokens[0].Token.Value() != tokB || h.DialplanTokens[1].Token.Value() != "token-m-0123456789abcdef" ||
		c.Users[0].Token.Value() != tokC || c.Users[1].Token != "" {
		t.Errorf("tokens not read: %+v %+v", h, c.Users)
	}
	// Without systemd a credential cannot be read.
	if _, err := loadIn(t, yaml, map[string]string{"admin": tokA, "dp": tokB, "alice": tokC}, nil); err == nil ||
		!strings.Contains(err.Error(), "http.dialplan_tokens[1].token_credential: $CREDENTIALS_DIRECTORY is not set") {
		t.Errorf("credential outside systemd: %v", err)
	}
	// With the listener off, no token file is read.
	if _, err := loadIn(t, "http: {listen: \"\", admin_token_file: missing}\n", nil, nil); err != nil {
		t.Errorf("listener off: %v", err)
	}
}

// Every token-key mistake names its key; a token never appears in the
// message.
func TestTokensValidate(t *testing.T) {
	files := map[string]string{"a": tokA, "b": tokB, "short": "abc", "dup": tokA}
	for _, tt := range []struct{ name, yaml, want string }{
		{"missing file", "http: {admin_token_file: nope}", `http.admin_token_file: reading`},
		{"both forms", "http: {admin_token_file: a, admin_token_credential: a}", "http.admin_token_file: set both http.admin_token_file and http.admin_token_credential"},
		{"short", "http: {admin_token_file: short}", "http.admin_token_file: shorter than 16 characters"},
		{"shared", "http: {admin_token_file: a, dialplan_tokens: [{name: x, token_file: dup}]}", "http.dialplan_tokens[0].token_file: the same token as http.admin_token_file"},
		{"user shares", "http: {admin_token_file: a}\nusers: [{extension: \"101\", token_file: dup}]", "users[0].token_file: the same token as http.admin_token_file"},
		{"no name", "http: {dialplan_tokens: [{token_file: b}]}", "http.dialplan_tokens[0].name: required"},
		{"same name", "http: {dialplan_tokens: [{name: x, token_file: a}, {name: x, token_file: b}]}", `http.dialplan_tokens[1].name: "x" is also http.dialplan_tokens[0]'s name`},
		{"no token", "http: {dialplan_tokens: [{name: x}]}", "http.dialplan_tokens[0]: set token_file or token_credential"},
		{"path as credential", "http: {admin_token_credential: ../a}", "http.admin_token_credential: \"../a\": a credential name, not a path"},
		{"off loopback, no admin", "http: {listen: \"0.0.0.0:9089\", dialplan_tokens: [{name: x, token_file: b}]}", `http.admin_token_file: required: http.listen "0.0.0.0:9089" is not on loopback`},
		{"off loopback, no dialplan", "http: {listen: \"192.0.2.1:9089\", admin_token_file: a}", `http.dialplan_tokens: required: http.listen "192.0.2.1:9089" is not on loopback`},
		{"host name is not loopback", "http: {listen: \"pbx.example.com:9089\", admin_token_file: a}", `http.dialplan_tokens: required`},
		{"public typo", "http: {public: [healtz]}", `http.public[0]: "healtz" is not one of healthz, readyz, metrics`},
		{"closed metrics, no dialplan token", "http: {public: [healthz, readyz]}", "http.public: leaves out metrics, which then needs a dialplan token"},
		{"tls half", "http: {tls: {cert_file: c.pem}}", "http.tls: set both cert_file and key_file"},
		{"body limit", "http: {limits: {max_body_bytes: 10}}", "http.limits.max_body_bytes: 10: want at least 1024"},
		{"header limit", "http: {limits: {max_header_bytes: 100}}", "http.limits.max_header_bytes: 100: want at least 4096"},
		{"streams", "http: {limits: {streams_total: 2, streams_per_agent: 3}}", "http.limits.streams_per_agent: 3: want 1 to streams_total (2)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadIn(t, tt.yaml+"\n", files, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant %q", err, tt.want)
			}
			for _, tok := range []string{tokA, tokB} {
				if strings.Contains(err.Error(), tok) {
					t.Errorf("the token is in the message: %v", err)
				}
			}
		})
	}
	// The good cases of the same keys.
	for _, yaml := range []string{
		"http: {listen: \"0.0.0.0:9089\", admin_token_file: a, dialplan_tokens: [{name: asterisk, token_file: b}]}",
		"http: {listen: \"localhost:9089\"}",
		"http: {listen: \"[::1]:9089\", public: [], dialplan_tokens: [{name: prom, token_file: b}]}",
	} {
		c, err := loadIn(t, yaml+"\n", files, nil)
		if err != nil {
			t.Errorf("%s: %v", yaml, err)
			continue
		}
		if l := c.HTTP.Limits; l != DefaultHTTPLimits() {
			t.Errorf("limits default %+v", l)
		}
	}
}

// http.public defaults to all three and can be narrowed.
func TestPublicDefault(t *testing.T) {
	c := Default()
	for _, r := range []string{"healthz", "readyz", "metrics"} {
		if !c.HTTP.IsPublic(r) {
			t.Errorf("%s not public by default", r)
		}
	}
	c, err := loadIn(t, "http: {public: [healthz], dialplan_tokens: [{name: prom, token_file: b}]}\n", map[string]string{"b": tokB}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.HTTP.IsPublic("healthz") || c.HTTP.IsPublic("readyz") || c.HTTP.IsPublic("metrics") {
		t.Errorf("public %v", c.HTTP.Public)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "127.1.2.3:1": true, "[::1]:1": true, "localhost:1": true,
		"0.0.0.0:1": false, ":1": false, "[::]:1": false, "192.0.2.1:1": false, "pbx:1": false, "bad": false} {
		if got := (HTTP{Listen: addr}).Loopback(); got != want {
			t.Errorf("%s: loopback %v, want %v", addr, got, want)
		}
	}
}
