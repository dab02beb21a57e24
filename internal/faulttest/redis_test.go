package faulttest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// installHint is what to run when a peer the test needs is missing.
const installHint = "apt-get install -y redis-server sip-tester"

// redisServer is one real redis-server, persisting with the append-only
// file to its own directory so that a restart finds its data again.
type redisServer struct {
	addr string // 127.0.0.1:port, kept across restarts
	dir  string
	bin  string
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// startRedis runs redis-server on a free loopback port until the test
// ends. A missing binary fails the test: the guarantees are only proven
// against a real Redis.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found in PATH; install it: %s", installHint)
	}
	s := &redisServer{addr: freeAddr(t), dir: t.TempDir(), bin: bin}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

func (s *redisServer) url() string { return "redis://" + s.addr + "/0" }

func (s *redisServer) start() error {
	_, port, _ := net.SplitHostPort(s.addr)
	logf, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	s.log = logf
	s.cmd = exec.Command(s.bin,
		"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
		"--appendfsync", "everysec", "--dir", s.dir, "--daemonize", "no", "--loglevel", "warning",
		"--protected-mode", "no")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(s.cmd, s.done)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ping(s.addr) == nil {
			return nil
		}
		select {
		case <-s.done:
			b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redis-server exited: %s", b)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("redis-server on %s did not answer PING", s.addr)
}

// stop shuts redis-server down cleanly (SIGTERM flushes the append-only
// file) and waits for it.
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	s.log.Close()
	s.cmd = nil
}

// restart stops redis-server and starts it again on the same port and
// directory.
func (s *redisServer) restart() error {
	s.stop()
	return s.start()
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

// freeAddr finds a free loopback port. Another process could take it
// before the caller listens; on a test machine that is rare enough.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
