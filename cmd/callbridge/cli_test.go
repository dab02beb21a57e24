package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/internal/app/demo"
)

var flagRE = regexp.MustCompile(`(?m)^  (--[a-z-]+)`)

// `callbridge help CMD` and `callbridge CMD -h` print the same: that
// command's description and its own flags, nothing else's, and exit 0.
func TestHelpPerCommand(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			hCode, hOut, hErr := call(t, append([]string{"help"}, strings.Fields(c.name)...)...)
			dCode, dOut, dErr := call(t, append(strings.Fields(c.name), "-h")...)
			if hCode != 0 || dCode != 0 || hErr != "" || dErr != "" || hOut != dOut {
				t.Fatalf("help: %d %q %q\n-h: %d %q %q", hCode, hOut, hErr, dCode, dOut, dErr)
			}
			if !strings.HasPrefix(hOut, "usage: callbridge "+c.name) || len(strings.TrimSpace(c.about)) < 40 {
				t.Errorf("no synopsis or description:\n%s", hOut)
			}
			var listed []string
			for _, m := range flagRE.FindAllStringSubmatch(hOut, -1) {
				listed = append(listed, m[1])
			}
			if want := c.flagNames(); !slices.Equal(listed, want) {
				t.Errorf("flags listed %v, want exactly %v:\n%s", listed, want, hOut)
			}
			if _, _, err := call(t, append(strings.Fields(c.name), "--help")...); err != "" {
				t.Errorf("--help: %q", err)
			}
		})
	}
	// The reported case: queue stats has neither --limit nor --all.
	_, out, _ := call(t, "queue", "stats", "-h")
	if strings.Contains(out, "--limit") || strings.Contains(out, "--all") {
		t.Errorf("queue stats -h lists another command's flags:\n%s", out)
	}
}

// The command list, the groups, and mistakes.
func TestHelpAndMistakes(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		if code, out, errOut := call(t, args...); code != 0 || errOut != "" || !strings.Contains(out, "callbridge queue retry (ID | --all) [flags]") {
			t.Errorf("%v: %d %q %q", args, code, out, errOut)
		}
	}
	for _, args := range [][]string{{"help", "queue"}, {"queue", "-h"}} {
		if code, out, _ := call(t, args...); code != 0 || !strings.Contains(out, "callbridge queue purge") || strings.Contains(out, "callbridge users") {
			t.Errorf("%v: %d %q", args, code, out)
		}
	}
	for _, tt := range []struct {
		args []string
		err  string
	}{
		{[]string{"help", "frobnicate"}, `no command "frobnicate"`},
		{[]string{"queue"}, "usage: callbridge queue COMMAND"},
		{[]string{"queue", "frob"}, `callbridge queue: unknown command "frob"`},
		{[]string{"queue", "stats", "--limit", "3"}, "callbridge queue stats: flag provided but not defined: -limit\nusage: callbridge queue stats [flags]\nRun 'callbridge help queue stats' for its flags.\n"},
		{[]string{"integrations", "enable"}, "callbridge integrations enable: missing NAME"},
		{[]string{"run", "extra"}, `callbridge run: unexpected argument "extra"`},
		{[]string{"completion", "zsh"}, "only bash is supported"},
	} {
		if code, out, errOut := call(t, tt.args...); code != 2 || out != "" || !strings.Contains(errOut, tt.err) {
			t.Errorf("%v: %d %q %q, want exit 2 saying %q", tt.args, code, out, errOut, tt.err)
		}
	}
	// Flags and the positional argument in either order.
	for _, args := range [][]string{{"queue", "retry", "--config", "x.yaml", "ID"}, {"queue", "retry", "ID", "--config", "x.yaml"}} {
		if code, _, errOut := call(t, args...); code != 1 || !strings.Contains(errOut, "x.yaml") {
			t.Errorf("%v: %d %q, want the config looked for", args, code, errOut)
		}
	}
}

// `callbridge completion bash` completes commands, subcommands, each
// command's own flags and file names, in a real bash.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	code, script, errOut := call(t, "completion", "bash")
	if code != 0 {
		t.Fatalf("%d %s", code, errOut)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "callbridge.yaml"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		line string // what was typed; the last word is being completed
		want string
	}{
		{"callbridge qu", "queue"},
		{"callbridge queue ", "stats dead retry purge"},
		{"callbridge queue stats --", "--config --connector"},
		{"callbridge queue dead --", "--config --connector --limit"},
		{"callbridge integrations ", "status sync full-sync enable disable delete create"},
		{"callbridge replay --c", "--cel --cel-time-zone --config"},
		{"callbridge run --config " + dir + "/call", dir + "/callbridge.yaml"},
		{"callbridge help qu", "queue"},
		{"callbridge completion ", "bash"},
	} {
		words := strings.Split(tt.line, " ")
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, fmt.Sprintf("%q", w))
		}
		prog := script + fmt.Sprintf("\nCOMP_WORDS=(%s); COMP_CWORD=%d; _callbridge; echo \"${COMPREPLY[*]}\"\n", strings.Join(quoted, " "), len(words)-1)
		out, err := exec.Command(bash, "--norc", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", tt.line, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tt.want {
			t.Errorf("%q: completes %q, want %q", tt.line, got, tt.want)
		}
	}
}

// The queue commands work beside a running daemon with the embedded store,
// whose file the daemon holds: they go through its admin API. Once it is
// stopped they open the store themselves, and say the same.
func TestQueueBesideRunningDaemon(t *testing.T) {
	recs, err := demo.Recordings()
	if err != nil {
		t.Fatal(err)
	}
	ariSrv, err := fakeari.New(fakeari.Options{Recordings: recs[:2], AwaitList: true, Username: "cb", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer ariSrv.Close()
	// A CRM that refuses every activity for good: dead letters.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "unknown user", http.StatusUnprocessableEntity)
	}))
	defer hook.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "callbridge.yaml")
	os.WriteFile(cfgPath, fmt.Appendf(nil, `state_dir: %s
ari: {url: %s, username: cb, password: pw}
trunks: [pstn]
http: {listen: "%s", admin_token_file: admin.token}
delivery: {poll_interval: 50ms}
crm:
  - {name: hook, type: webhook, webhook: {url: %s, secret: hook-secret}}
`, dir, ariSrv.URL(), addr, hook.URL), 0o600)
	os.WriteFile(filepath.Join(dir, "admin.token"), []byte("cli-admin-token-0123456789\n"), 0o600)

	useTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan int, 1)
	var logs lockedBuffer
	go func() { done <- run(ctx, []string{"run", "--config", cfgPath}, &logs, &logs) }()
	stopped := false
	stop := func() {
		if !stopped {
			cancel()
			<-done
			stopped = true
		}
	}
	defer stop()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, out, _ := call(t, "queue", "stats", "--config", cfgPath); strings.Contains(out, "hook") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the daemon never answered")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := ariSrv.Play(ctx); err != nil {
		t.Fatal(err)
	}
	// Both recorded calls' activities end as dead letters.
	var dead string
	for {
		_, dead, _ = call(t, "queue", "dead", "--config", cfgPath)
		if strings.Count(dead, "\n") == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead letters: %q", dead)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(dead, `"reason":"webhook hook: POST `) || !strings.Contains(dead, "422") {
		t.Errorf("dead letters without the CRM's reason: %s", dead)
	}
	id := regexp.MustCompile(`"activity":\{"id":"([0-9a-f]+)"`).FindStringSubmatch(dead)
	if id == nil {
		t.Fatalf("no id in %s", dead)
	}
	for _, tt := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"queue", "stats"}, 0, "hook"},
		{[]string{"queue", "dead", "--limit", "1"}, 0, `"connector":"hook"`},
		{[]string{"queue", "retry", "nope"}, 1, ""},
		{[]string{"queue", "retry", id[1]}, 0, id[1] + " queued again"},
	} {
		code, out, errOut := call(t, append(tt.args, "--config", cfgPath)...)
		if code != tt.code || !strings.Contains(out, tt.out) {
			t.Errorf("beside the daemon, %v: %d %q %q", tt.args, code, out, errOut)
		}
	}
	// The retried one is refused again and comes back: two dead letters.
	for {
		if _, out, _ := call(t, "queue", "dead", "--config", cfgPath); strings.Count(out, "\n") == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the retried activity did not come back as a dead letter")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, out, errOut := call(t, "queue", "purge", "--connector", "hook", "--config", cfgPath); code != 0 || out != "2 dead letters purged (their activities will not be queued again)\n" {
		t.Errorf("purge beside the daemon: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := call(t, "queue", "retry", "nope", "--config", cfgPath); code != 1 || errOut != "callbridge: no dead letter with activity id nope\n" {
		t.Errorf("retry of an unknown id: %d %q", code, errOut)
	}

	// Stopped: the store itself, the same answers.
	stop()
	if code, out, errOut := call(t, "queue", "stats", "--config", cfgPath); code != 0 || !regexp.MustCompile(`hook\s+0\s+0\s+0\s+0\s+0`).MatchString(out) {
		t.Errorf("stats with the daemon stopped: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := call(t, "queue", "retry", "nope", "--config", cfgPath); code != 1 || errOut != "callbridge: no dead letter with activity id nope\n" {
		t.Errorf("retry with the daemon stopped: %d %q", code, errOut)
	}
}
