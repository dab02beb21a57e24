package config

import (
	"os"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader: it must never panic, a
// config it accepts must validate, and an error must never be empty.
func FuzzLoad(f *testing.F) {
	if b, err := os.ReadFile("example.yaml"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"", "# c\n", "log_level: debug\n", "[1, 2]\n", "a: b\n---\nc: d\n",
		"ari: {url: 'http://127.0.0.1:8088/ari', username: u, password: p}\n",
		"ami: {host: 127.0.0.1, port: 5038, username: u, secret: s, tls: true}\n",
		"sip: {hep_listen_udp: ['127.0.0.1:9060'], pbx_addresses: ['127.0.0.1']}\n",
		"users:\n  - extension: '101'\n    endpoints: [a, b]\n  - {extension: '101'}\n",
		"users: {extension: 1}\n", "x: &a {b: *a}\n", "<<: {log_level: info}\n",
		"default_region: FI\nusers: [{extension: '1', mobile: '040 123 4567'}]\n",
		"extension_pattern: '['\ntrunks: [pstn, pstn]\n",
		"ari: {password_file: /etc/shadow}\n", "ami:\n  port: !!binary AAAA\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := load(data, t.TempDir(), noEnv)
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loaded but invalid: %v", err)
		}
	})
}
