package celtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Hint is what to install when a server binary is missing (Debian).
const Hint = "apt-get install -y postgresql mariadb-server"

// process is one server process run for a test, as an unprivileged user
// when the test runs as root (PostgreSQL refuses to run as root).
type process struct {
	dir  string // owned by the server's user; removed at the end
	cred *syscall.Credential
	uid  int
	gid  int
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// newProcess makes the scratch directory. Not t.TempDir: its parents are
// private to root, and the server's user must reach it.
func newProcess(t testing.TB, prefix string) *process {
	t.Helper()
	base := os.TempDir()
	if os.Geteuid() == 0 && !traversable(base) {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, prefix)
	if err != nil {
		t.Fatal(err)
	}
	p := &process{dir: dir, uid: -1, gid: -1}
	t.Cleanup(func() {
		p.stop()
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			t.Fatalf("running as root, and no user nobody to run the server as: %v", err)
		}
		p.uid, _ = strconv.Atoi(u.Uid)
		p.gid, _ = strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(p.uid), Gid: uint32(p.gid)}
		if err := os.Chown(dir, p.uid, p.gid); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// traversable reports whether every directory down to dir lets others
// through, so that the server's user reaches what is made inside.
func traversable(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

// run runs a setup command (initdb, mariadb-install-db) to completion.
func (p *process) run(bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	cmd.Dir = p.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", filepath.Base(bin), err, tail(out))
	}
	return nil
}

// start starts the server; it runs until stop or the end of the test.
func (p *process) start(bin string, args ...string) error {
	p.log = filepath.Join(p.dir, "server.log")
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if p.uid >= 0 {
		_ = f.Chown(p.uid, p.gid)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = p.dir
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(p.cmd, p.done)
	return nil
}

// exited reports whether the server has stopped, with its log.
func (p *process) exited() (string, bool) {
	select {
	case <-p.done:
		b, _ := os.ReadFile(p.log)
		return tail(b), true
	default:
		return "", false
	}
}

// stop asks the server to shut down (SIGTERM: PostgreSQL's smart, MariaDB's
// normal shutdown) and kills it if it has not within 15 s.
func (p *process) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	p.cmd = nil
}

// chown gives a file the server writes or reads to its user.
func (p *process) chown(path string) error {
	if p.uid < 0 {
		return nil
	}
	return os.Chown(path, p.uid, p.gid)
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

// freePort asks the kernel for a free loopback port.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// password makes a random password.
func password() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// findBin looks for a server binary: in dirs (newest version first, for
// globs such as /usr/lib/postgresql/*/bin), then in PATH.
func findBin(name string, globs ...string) (string, error) {
	for _, g := range globs {
		matches, _ := filepath.Glob(filepath.Join(g, name))
		sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && !fi.IsDir() {
				return m, nil
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found (looked in %s and PATH); install it: %s", name, strings.Join(globs, ", "), Hint)
}

// versionOf reads the major version out of a path like
// /usr/lib/postgresql/17/bin/initdb.
func versionOf(path string) int {
	for _, part := range strings.Split(path, string(filepath.Separator)) {
		if n, err := strconv.Atoi(part); err == nil {
			return n
		}
	}
	return 0
}
