package faulttest

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// crmSecret signs the webhooks. It is a test value; the daemons read it
// from their config file.
const crmSecret = "faulttest-signing-secret"

// daemonParams fill the daemons' config.
type daemonParams struct {
	StateDir     string
	App          string // ari.application: one per instance
	ARIURL       string
	ARIUser      string
	ARIPass      string
	RedisURL     string
	WaitReplicas int
	CRMURL       string
	CELFile      string
	HTTP         string // metrics listener, host:port; empty: off
}

// configTemplate is one daemon's configuration. The directory is three
// users; delivery is tuned so a crashed worker's jobs are taken over
// within seconds, and the connector gives up on a slow CRM quickly so that
// hanging answers happen often.
var configTemplate = template.Must(template.New("config").Parse(`log_level: info
state_dir: {{.StateDir}}
ari:
  url: {{.ARIURL}}
  application: {{.App}}
  username: {{printf "%q" .ARIUser}}
  password: {{printf "%q" .ARIPass}}
users:
  - extension: "101"
    name: Alice
  - extension: "102"
    name: Bob
  - extension: "103"
    name: Carol
trunks: [pstn, pstn2]
http:
  listen: {{printf "%q" .HTTP}}
store:
  type: redis
  redis_url: {{printf "%q" .RedisURL}}
  redis_prefix: faulttest
  wait_replicas: {{.WaitReplicas}}
  wait_timeout: 1s
delivery:
  concurrency: 32
  lease: 2s
  push_timeout: 1s
  backoff_min: 50ms
  backoff_max: 1s
  drain_timeout: 1s
  poll_interval: 100ms
crm:
  - name: crm
    type: webhook
    webhook:
      url: {{.CRMURL}}
      secret: ` + crmSecret + `
      timeout: ` + crmTimeout.String() + `
cel:
  type: csv
  file: {{.CELFile}}
  time_zone: UTC
  margin: 30s
`))

func daemonConfig(p daemonParams) string {
	if p.ARIUser == "" {
		p.ARIUser, p.ARIPass = "asterisk", "asterisk"
	}
	if p.App == "" {
		p.App = "callbridge"
	}
	var b bytes.Buffer
	if err := configTemplate.Execute(&b, p); err != nil {
		panic(err) // the template is fixed; a failure is a bug here
	}
	return b.String()
}

// daemon is one callbridge instance: a config file, a state directory and
// a log file kept across restarts, and the running process if any.
type daemon struct {
	name   string
	bin    string
	config string
	log    string
	starts int
	http   string // metrics listener
	cmd    *exec.Cmd
	done   chan struct{}
	logf   *os.File
}

// newDaemon writes the config of one instance under dir, to be run from
// bin.
func newDaemon(t *testing.T, bin, name string, p daemonParams) *daemon {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	p.StateDir = filepath.Join(dir, "state")
	p.HTTP = freeAddr(t)
	if err := os.MkdirAll(p.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	d := &daemon{name: name, bin: bin, config: filepath.Join(dir, "callbridge.yaml"), log: filepath.Join(dir, "stderr.log"), http: p.HTTP}
	if err := os.WriteFile(d.config, []byte(daemonConfig(p)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop() })
	return d
}

// start runs `callbridge run` with stderr appended to the log file.
func (d *daemon) start() error {
	logf, err := os.OpenFile(d.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	d.starts++
	fmt.Fprintf(logf, "=== faulttest: start %d of %s at %s ===\n", d.starts, d.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(d.bin, "run", "--config", d.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Should the test itself die, the daemon goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", d.name, err)
	}
	d.cmd, d.logf, d.done = cmd, logf, make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(cmd, d.done)
	return nil
}

// running reports whether the process is alive.
func (d *daemon) running() bool {
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// kill SIGKILLs the process, as a crash or the OOM killer would.
func (d *daemon) kill() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
	fmt.Fprintf(d.logf, "=== faulttest: SIGKILL %s at %s ===\n", d.name, time.Now().Format(time.RFC3339Nano))
	d.logf.Close()
	d.cmd = nil
}

// stopTimeout is how long a SIGTERMed daemon may take: its drain timeout
// is 1s, systemd would give it 90s.
const stopTimeout = 15 * time.Second

// stop asks the process to stop (SIGTERM) and waits for it, killing it if
// it does not stop in time; ok is false then.
func (d *daemon) stop() (ok bool) {
	if d.cmd == nil {
		return true
	}
	ok = true
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(stopTimeout):
		ok = false
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	d.logf.Close()
	d.cmd = nil
	return ok
}

// metric sums the samples of one metric (all its label values) on the
// daemon's /metrics.
func (d *daemon) metric(name string) (float64, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + d.http + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	sum, found := 0.0, false
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		v, err := strconv.ParseFloat(rest[strings.LastIndexByte(rest, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q: %w", d.name, line, err)
		}
		sum, found = sum+v, true
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("%s: no metric %s", d.name, name)
	}
	return sum, nil
}

// tail is the end of the log file.
func (d *daemon) tail(n int) string {
	b, err := os.ReadFile(d.log)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
