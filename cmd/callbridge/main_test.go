package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/app"
)

func call(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	if code, _, errOut := call(t); code != 2 || !strings.Contains(errOut, "callbridge demo") {
		t.Errorf("no args: %d %q", code, errOut)
	}
	if code, _, errOut := call(t, "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown: %d %q", code, errOut)
	}
	if code, _, _ := call(t, "replay"); code != 2 {
		t.Errorf("replay without a file: %d", code)
	}
	if code, _, _ := call(t, "replay", "--ari", "a", "--ami", "b"); code != 2 {
		t.Errorf("replay with two files: %d", code)
	}
	if code, out, _ := call(t, "version"); code != 0 || !strings.HasPrefix(out, "callbridge ") {
		t.Errorf("version: %d %q", code, out)
	}
}

// The fully commented example config is what `config check` accepts, with
// its state directory moved to one this test may create.
func TestConfigCheckExample(t *testing.T) {
	useTestEnv(t)
	path := exampleIn(t, t.TempDir())
	code, out, errOut := call(t, "config", "check", "--config", path)
	if code != 0 || out != path+": ok\n" {
		t.Fatalf("%d %q %q", code, out, errOut)
	}
}

// exampleIn writes config/example.yaml into dir with its paths under dir.
func exampleIn(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile("../../config/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "/var/lib/callbridge", filepath.Join(dir, "state"))
	if s == string(b) {
		t.Fatal("example.yaml has no /var/lib/callbridge to move")
	}
	path := filepath.Join(dir, "callbridge.yaml")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A bad config fails with every problem, each naming its key.
func TestConfigCheckNamesKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	bad := `
ari:
  url: ftp://pbx
  username: cb
users:
  - extension: "101"
  - extension: "101"
default_region: XX
log_level: loud
`
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := call(t, "config", "check", "--config", path)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errOut)
	}
	for _, key := range []string{"ari.url", "users[1].extension", "default_region", "log_level"} {
		if !strings.Contains(errOut, key) {
			t.Errorf("the error does not name %s:\n%s", key, errOut)
		}
	}
	unknown := filepath.Join(t.TempDir(), "unknown.yaml")
	os.WriteFile(unknown, []byte("ari:\n  usrname: x\n"), 0o600)
	if code, _, errOut := call(t, "config", "check", "--config", unknown); code != 1 || !strings.Contains(errOut, "ari.usrname") {
		t.Errorf("unknown key: %d %s", code, errOut)
	}
}

// replay --ari --all prints exactly the golden activities of the engine
// tests: the command adds nothing and loses nothing.
func TestReplayMatchesGolden(t *testing.T) {
	recs, _ := filepath.Glob("../../testdata/recordings/*/ari.jsonl")
	if len(recs) == 0 {
		t.Fatal("no recordings")
	}
	for _, rec := range recs {
		name := filepath.Base(filepath.Dir(rec))
		code, out, errOut := call(t, "replay", "--ari", rec, "--all")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, errOut)
		}
		want, err := os.ReadFile(filepath.Join("../../testdata/golden", name+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		// --all marks what would not be sent; without a config only
		// the answered-elsewhere legs.
		got := notSentRE.ReplaceAllString(out, "}")
		if got != string(want) {
			t.Errorf("%s: replay differs from the golden file:\n got %s\nwant %s", name, out, want)
		}
		if a, n := strings.Count(out, `"reason":"answered_elsewhere"`), strings.Count(out, `"not_sent":"answered_elsewhere"}`); a != n {
			t.Errorf("%s: %d answered-elsewhere activities, %d marked not_sent", name, a, n)
		}
	}
}

// Without --all the answered-elsewhere legs are left out, and said so.
func TestReplayHidesAnsweredElsewhere(t *testing.T) {
	code, out, errOut := call(t, "replay", "--ari", "../../testdata/recordings/ring_group/ari.jsonl")
	if code != 0 || strings.Count(out, "\n") != 1 || strings.Contains(out, "answered_elsewhere") ||
		!strings.Contains(errOut, "would not be sent: 1 answered_elsewhere; not shown") {
		t.Fatalf("%d\n%s\n%s", code, out, errOut)
	}
}

// A recording with garbage in it still gives its activities; the bad lines
// are reported, not fatal.
func TestReplaySurvivesMalformedLines(t *testing.T) {
	good, err := os.ReadFile("../../testdata/recordings/inbound_answered/ari.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(good), "\n")
	mixed := strings.Join(lines[:10], "\n") + "\n{not json\n\x00\x01\n" + strings.Join(lines[10:], "\n")
	path := filepath.Join(t.TempDir(), "mixed.jsonl")
	os.WriteFile(path, []byte(mixed), 0o600)
	code, out, errOut := call(t, "replay", "--ari", path)
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(errOut, "2 malformed") {
		t.Fatalf("%d\n%s\n%s", code, out, errOut)
	}
}

var notSentRE = regexp.MustCompile(`,"not_sent":"[a-z_]+"}`)

// With a config, its policy decides what would be sent, and --all shows the
// rest with the reason.
func TestReplayAppliesPolicy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("trunks: [pstn]\npolicy:\n  duration_limit: 3s\n  sync_internal: false\n"), 0o600)
	var out, errOut strings.Builder
	for _, rec := range []string{"short_call", "internal_answered", "inbound_answered"} {
		code, o, e := call(t, "replay", "--all", "--config", path, "--ari", "../../testdata/recordings/"+rec+"/ari.jsonl")
		if code != 0 {
			t.Fatalf("%s: %d %s", rec, code, e)
		}
		out.WriteString(o)
		errOut.WriteString(e)
	}
	// short_call talks 2 s (< 3 s); internal_answered is internal on both
	// sides; inbound_answered (5 s) is sent.
	for _, want := range []string{`"talk_seconds":2.004,"privacy":"work","source":"ari","started_at":"2026-11-21T16:11:10.011Z","answered_at":"2026-11-21T16:11:12.019Z","ended_at":"2026-11-21T16:11:14.023Z","not_sent":"duration_limit"}`,
		`"user":"101","local_number":"101","direction":"outbound","internal":true`, `"not_sent":"internal"}`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %s:\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), `"not_sent":`); n != 3 {
		t.Errorf("%d activities marked not_sent, want 3:\n%s", n, out.String())
	}
	if !strings.Contains(errOut.String(), "1 duration_limit") || !strings.Contains(errOut.String(), "2 internal") {
		t.Errorf("stderr: %s", errOut.String())
	}
}

func TestReplayConfigApplies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("default_region: FI\ntrunks: [pstn]\nusers:\n  - extension: \"101\"\n    name: Alice\n"), 0o600)
	code, out, errOut := call(t, "replay", "--ari", "../../testdata/recordings/outbound_answered/ari.jsonl", "--config", path)
	if code != 0 || !strings.Contains(out, `"remote_e164":"+358401234567"`) || !strings.Contains(out, `"user_name":"Alice"`) {
		t.Fatalf("%d\n%s\n%s", code, out, errOut)
	}
}

// The queue commands work on the configured store: here an embedded one
// holding a dead letter, put there as a failing delivery would.
func TestQueueCommands(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	// No listener: nobody to ask but the store itself.
	os.WriteFile(cfgPath, []byte("state_dir: "+dir+"\nhttp: {listen: \"\"}\n"), 0o600)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := bridge.Activity{ID: "deadbeef", User: "101", StartedAt: time.Unix(1, 0), EndedAt: time.Unix(2, 0)}
	if _, err := st.Enqueue(ctx, "crm", a); err != nil {
		t.Fatal(err)
	}
	jobs, err := st.Claim(ctx, crmsync.ClaimRequest{Connector: "crm", Worker: "w", Max: 1, Lease: time.Minute})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %d", err, len(jobs))
	}
	if err := st.DeadLetter(ctx, jobs[0], "422 Unprocessable Entity"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	code, out, errOut := call(t, "queue", "stats", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "crm") || !strings.Contains(out, "DEAD") {
		t.Fatalf("stats: %d %q %q", code, out, errOut)
	}
	code, out, errOut = call(t, "queue", "dead", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, `"reason":"422 Unprocessable Entity"`) || !strings.Contains(errOut, "1 dead letters") {
		t.Fatalf("dead: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := call(t, "queue", "retry", "nope", "--config", cfgPath); code != 1 || !strings.Contains(errOut, "no dead letter") {
		t.Fatalf("retry unknown: %d %q", code, errOut)
	}
	if code, out, _ := call(t, "queue", "retry", "deadbeef", "--config", cfgPath); code != 0 || !strings.Contains(out, "queued again") {
		t.Fatalf("retry: %d %q", code, out)
	}
	if code, _, _ := call(t, "queue", "retry", "--config", cfgPath); code != 2 {
		t.Fatalf("retry without id: %d", code)
	}
	if code, out, _ := call(t, "queue", "purge", "--config", cfgPath); code != 0 || !strings.Contains(out, "0 dead letters purged") {
		t.Fatalf("purge: %d %q", code, out)
	}
}

// replay --cel reads the recordings' cel.csv and prints the activities
// --ari prints, with the same ids (the engine's CEL parity test checks the
// fields); here the command's part: flags, counting, the source name.
func TestReplayCEL(t *testing.T) {
	recs, _ := filepath.Glob("../../testdata/recordings/*/cel.csv")
	if len(recs) != 28 {
		t.Fatalf("%d cel.csv recordings", len(recs))
	}
	for _, rec := range recs {
		name := filepath.Base(filepath.Dir(rec))
		code, out, errOut := call(t, "replay", "--cel", rec, "--all")
		if code != 0 || strings.Contains(errOut, "malformed") {
			t.Fatalf("%s: exit %d: %s", name, code, errOut)
		}
		want, err := os.ReadFile(filepath.Join("../../testdata/golden", name+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		ids := regexp.MustCompile(`"id":"[0-9a-f]+"`)
		g, w := ids.FindAllString(out, -1), ids.FindAllString(string(want), -1)
		slices.Sort(g)
		slices.Sort(w)
		if len(w) == 0 || !slices.Equal(g, w) {
			t.Errorf("%s: ids %v, ARI's %v", name, g, w)
		}
		if n := strings.Count(out, `"source":"cel"`); n != len(g) {
			t.Errorf("%s: %d of %d activities say source cel", name, n, len(g))
		}
	}
	if code, _, errOut := call(t, "replay", "--cel", recs[0], "--ari", "x"); code != 2 || !strings.Contains(errOut, "--cel") {
		t.Errorf("two sources: %d %s", code, errOut)
	}
}

// --cel-time-zone reads a cel.csv written with a dateformat (local dates)
// in that zone: the same call, dated in Helsinki's winter time, gives the
// same UTC times as the epoch recording; read as UTC it is two hours off.
func TestReplayCELTimeZone(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/recordings/inbound_answered/cel.csv")
	if err != nil {
		t.Fatal(err)
	}
	hel, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Fatal(err)
	}
	epoch := regexp.MustCompile(`^("[A-Z_]+"),"(\d+)\.(\d{6})"`)
	var dated []string
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		m := epoch.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q", l)
		}
		sec, _ := strconv.ParseInt(m[2], 10, 64)
		us, _ := strconv.ParseInt(m[3], 10, 64)
		d := time.Unix(sec, us*1000).In(hel).Format("2006-01-02 15:04:05.000000")
		dated = append(dated, m[1]+`,"`+d+`"`+l[len(m[0]):])
	}
	path := filepath.Join(t.TempDir(), "cel.csv")
	if err := os.WriteFile(path, []byte(strings.Join(dated, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, want, _ := call(t, "replay", "--cel", "../../testdata/recordings/inbound_answered/cel.csv")
	code, got, errOut := call(t, "replay", "--cel", path, "--cel-time-zone", "Europe/Helsinki")
	if code != 0 || got != want || !strings.Contains(got, `"started_at":"2026-11-21T16:09:34.710Z"`) {
		t.Errorf("Helsinki dates: %d %s\n got %s\nwant %s", code, errOut, got, want)
	}
	if _, utc, _ := call(t, "replay", "--cel", path); !strings.Contains(utc, `"started_at":"2026-11-21T18:09:34.710Z"`) {
		t.Errorf("read as UTC: %s", utc)
	}
	if code, _, errOut := call(t, "replay", "--cel", path, "--cel-time-zone", "Mars/Olympus"); code != 1 || !strings.Contains(errOut, "--cel-time-zone") {
		t.Errorf("bad zone: %d %s", code, errOut)
	}
}
