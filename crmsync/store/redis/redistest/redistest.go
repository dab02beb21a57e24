// Package redistest runs real redis-server processes for tests, each on a
// free loopback port, persisting to a temporary directory with the
// append-only file (appendfsync everysec) so that a test can restart or
// kill one and find its data again: a single server (Start), a master's
// replica (StartReplica), a Redis Cluster of masters and replicas
// (StartCluster) and Sentinels watching a master (StartSentinels).
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Hint is what to run when redis-server is missing.
const Hint = "apt-get install -y redis-server sip-tester"

// Server is one redis-server process.
type Server struct {
	Addr string // 127.0.0.1:port
	Dir  string
	bin  string
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
	// args are added to every start (a replica's --replicaof, a cluster
	// node's settings); ready tells, once it answers PING, that it is
	// ready for the test.
	args  []string
	ready func(*Server) error
	// sentinel is a Sentinel's config file: it runs as redis-server FILE
	// --sentinel, with none of a data server's options.
	sentinel string
}

// Start runs redis-server until the test ends. A missing binary fails the
// test: the delivery guarantees are only proven against a real Redis.
func Start(t testing.TB) *Server {
	t.Helper()
	s := newServer(t)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// newServer prepares a server on a free port, stopped at the test's end.
func newServer(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found in PATH; install it: %s", Hint)
	}
	s := &Server{Addr: freeAddr(t), Dir: t.TempDir(), bin: bin, args: args}
	t.Cleanup(func() { s.Stop() })
	return s
}

// freeAddr is a free loopback port. Another process could take it before
// the server listens; on a test machine that is rare enough.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

func (s *Server) start() error {
	_, port, _ := net.SplitHostPort(s.Addr)
	logf, err := os.OpenFile(s.Dir+"/redis.log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	s.log = logf
	s.cmd = exec.Command(s.bin, append([]string{
		"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
		"--appendfsync", "everysec", "--dir", s.Dir, "--daemonize", "no", "--loglevel", "warning",
		"--protected-mode", "no",
		// A replica syncs at once, and a master stops at once on SIGTERM
		// rather than wait for its replicas to catch up.
		"--repl-diskless-sync-delay", "0", "--shutdown-timeout", "0"}, s.args...)...)
	if s.sentinel != "" {
		s.cmd = exec.Command(s.bin, s.sentinel, "--sentinel", "--loglevel", "warning")
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(s.cmd, s.done)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ping(s.Addr) == nil {
			if s.ready == nil {
				return nil
			}
			return s.ready(s)
		}
		select {
		case <-s.done:
			b, _ := os.ReadFile(s.Dir + "/redis.log")
			return fmt.Errorf("redis-server exited: %s", b)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("redis-server on %s did not answer PING", s.Addr)
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// Stop shuts the server down cleanly (SIGTERM: the append-only file is
// flushed) and waits for it.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Kill stops the server abruptly (SIGKILL), as a crash would.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

func (s *Server) signal(sig syscall.Signal) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(sig)
		select {
		case <-s.done:
		case <-time.After(3 * time.Second):
			// Now and then a server busy with a sync or a rewrite takes
			// its time; what it answered is in its append-only file
			// anyway (the kernel has it).
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	s.log.Close()
	s.cmd = nil
}

// Crash kills the server (SIGKILL) and starts it again on the same port
// and directory: it reloads what its append-only file holds, which with
// appendfsync everysec is every write it answered (the kernel has them,
// only the fsync is late).
func (s *Server) Crash() error { return s.CrashFor(0) }

// CrashFor is Crash with the server down for d in between.
func (s *Server) CrashFor(d time.Duration) error {
	s.Kill()
	time.Sleep(d)
	return s.start()
}

// Running reports whether the process is alive.
func (s *Server) Running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Restart stops the server and starts it again on the same port and
// directory, so it reloads its append-only file.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
}

// Reload is Restart for callers without a testing.TB at hand (a step of a
// scenario): it reports the failure instead.
func (s *Server) Reload() error {
	s.Stop()
	return s.start()
}

// Port is the server's port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}
