package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const usage = `callbridge: per-user phone-call activities from Asterisk, for your CRM.

Usage:
  callbridge run --config FILE
        Run the daemon.
  callbridge config check --config FILE
        Check a configuration file; every problem names its key.
`

// TestPage builds the page from the repository's own docs: every section
// is there, every documented config key is, and the date is the one given,
// not today's.
func TestPage(t *testing.T) {
	var out bytes.Buffer
	usageFile := filepath.Join(t.TempDir(), "usage.txt")
	if err := os.WriteFile(usageFile, []byte(usage), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-root", "../../..", "-usage", usageFile, "-version", "1.2.3", "-epoch", "1764547200"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	for _, s := range []string{
		`.TH "CALLBRIDGE" 8 "2025-12-01" "callbridge 1.2.3" "System Administration"`,
		`.SH "NAME"` + "\ncallbridge \\- per-user phone-call activities from Asterisk, for your CRM\n",
		`.SH "COMMANDS"` + "\n.TP\n\\fBcallbridge run\\fR \\-\\-config FILE\nRun the daemon.\n",
		`\fBcallbridge config check\fR`,
		`.SH "CONFIGURATION"`, `.SS "ari"`, `.SH "CREDENTIALS"`, `.SH "FILES"`, `.SH "STATE DIRECTORY"`, `.SH "SEE ALSO"`,
		`\fB/etc/callbridge/callbridge.yaml\fR`,
	} {
		if !strings.Contains(page, s) {
			t.Errorf("the page has no %q", s)
		}
	}
	if strings.Contains(page, "For programs") {
		t.Error("the page has the programmers' section of docs/config.md")
	}
	ref, err := os.ReadFile("../../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(string(ref), -1) {
		if !strings.Contains(page, `\fB`+strings.ReplaceAll(k[1], "-", `\-`)+`\fR`) {
			t.Errorf("config key %s is not in the page", k[1])
		}
	}
}

func TestMissingSection(t *testing.T) {
	read := func(name string) (string, error) {
		if name == opsDoc {
			return "# Ops\n\n## Files\n\nnone\n", nil
		}
		b, err := os.ReadFile(filepath.Join("../../..", name))
		return string(b), err
	}
	_, err := build(usage, read, "1", time.Unix(0, 0))
	if err == nil || !strings.Contains(err.Error(), `no section "Secrets and credentials"`) {
		t.Errorf("build with a renamed section: %v", err)
	}
}
