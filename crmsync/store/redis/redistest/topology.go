package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// waitFor polls cond until it holds or timeout passes.
func waitFor(timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	if last != nil {
		return fmt.Errorf("redistest: %s: %w", what, last)
	}
	return fmt.Errorf("redistest: %s: not within %s", what, timeout)
}

// client is a plain connection to one server.
func client(addr string) *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
}

// Do runs one command on the server and returns its reply.
func (s *Server) Do(ctx context.Context, args ...any) (any, error) {
	c := client(s.Addr)
	defer c.Close()
	return c.Do(ctx, args...).Result()
}

// info is a section of INFO as key: value.
func info(ctx context.Context, addr, section string) (map[string]string, error) {
	c := client(addr)
	defer c.Close()
	txt, err := c.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(txt, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
			m[k] = v
		}
	}
	return m, nil
}

// Role is the server's INFO replication role: "master" or "slave".
func (s *Server) Role(ctx context.Context) (string, error) {
	m, err := info(ctx, s.Addr, "replication")
	if err != nil {
		return "", err
	}
	return m["role"], nil
}

// StartReplica runs a replica of master, and waits until it has synced.
func StartReplica(t testing.TB, master *Server) *Server {
	t.Helper()
	host, port, _ := net.SplitHostPort(master.Addr)
	r := newServer(t, "--replicaof", host, port)
	r.ready = func(r *Server) error {
		_, rport, _ := net.SplitHostPort(r.Addr)
		return waitFor(20*time.Second, "replica of "+master.Addr+" in sync", func() (bool, error) {
			m, err := info(context.Background(), r.Addr, "replication")
			if err != nil || m["master_link_status"] != "up" {
				return false, err
			}
			// The replica's link is up before its master counts it: after
			// a diskless sync the master puts it online only at its first
			// REPLCONF ACK (up to a second later), and WAIT counts online
			// replicas alone.
			mm, err := info(context.Background(), master.Addr, "replication")
			if err != nil {
				return false, err
			}
			for k, v := range mm {
				if strings.HasPrefix(k, "slave") && strings.Contains(v, "port="+rport+",") && strings.Contains(v, "state=online") {
					return true, nil
				}
			}
			return false, nil
		})
	}
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	return r
}

// Promote makes a replica a master (REPLICAOF NO ONE), as an operator or
// Sentinel does after its master is lost.
func (s *Server) Promote(ctx context.Context) error {
	_, err := s.Do(ctx, "REPLICAOF", "NO", "ONE")
	return err
}

// Pause stops the process (SIGSTOP) until Resume: a replica paused so
// keeps nothing new from its master, as a slow or cut-off link would.
func (s *Server) Pause() { s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume lets a paused process go on (SIGCONT).
func (s *Server) Resume() { s.cmd.Process.Signal(syscall.SIGCONT) }

// Cluster is a Redis Cluster of real servers.
type Cluster struct {
	Nodes []*Server
}

// StartCluster runs masters*(1+replicas) cluster nodes on free loopback
// ports (each with its bus port chosen free too) and joins them with
// redis-cli --cluster create, each master with its replicas; it waits until
// every node says the cluster is ok.
func StartCluster(t testing.TB, masters, replicas int) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli not found in PATH; install it: %s", Hint)
	}
	c := &Cluster{}
	for range masters * (1 + replicas) {
		_, bus, _ := net.SplitHostPort(freeAddr(t))
		n := newServer(t, "--cluster-enabled", "yes", "--cluster-port", bus,
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
		if err := n.start(); err != nil {
			t.Fatal(err)
		}
		c.Nodes = append(c.Nodes, n)
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", fmt.Sprint(replicas), "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	for _, n := range c.Nodes {
		err := waitFor(30*time.Second, "cluster ok on "+n.Addr, func() (bool, error) {
			m, err := clusterInfo(n.Addr)
			return err == nil && m["cluster_state"] == "ok" && m["cluster_known_nodes"] == fmt.Sprint(len(c.Nodes)), err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func clusterInfo(addr string) (map[string]string, error) {
	cl := client(addr)
	defer cl.Close()
	txt, err := cl.ClusterInfo(context.Background()).Result()
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(txt, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
			m[k] = v
		}
	}
	return m, nil
}

// URL is the redis+cluster:// URL naming every node.
func (c *Cluster) URL() string {
	u := "redis+cluster://" + c.Nodes[0].Addr
	for i, n := range c.Nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + n.Addr
	}
	return u
}

// Sentinels are Sentinel processes watching one master.
type Sentinels struct {
	Master string // the name they know it by
	Nodes  []*Server
}

// StartSentinels runs n Sentinels (redis-server --sentinel) watching
// master as name, with a quorum of n/2+1 and a second of silence taken as
// down, and waits until each has found master's replicas.
func StartSentinels(t testing.TB, name string, master *Server, n, replicas int) *Sentinels {
	t.Helper()
	host, port, _ := net.SplitHostPort(master.Addr)
	ss := &Sentinels{Master: name}
	for range n {
		s := &Server{Addr: freeAddr(t), Dir: t.TempDir()}
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			t.Fatalf("redis-server not found in PATH; install it: %s", Hint)
		}
		s.bin = bin
		_, sport, _ := net.SplitHostPort(s.Addr)
		conf := filepath.Join(s.Dir, "sentinel.conf")
		text := fmt.Sprintf("port %s\nbind 127.0.0.1\nprotected-mode no\ndir %s\nlogfile \"\"\n"+
			"sentinel monitor %s %s %s %d\nsentinel down-after-milliseconds %s 1000\n"+
			"sentinel failover-timeout %s 10000\nsentinel parallel-syncs %s 1\n",
			sport, s.Dir, name, host, port, n/2+1, name, name, name)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		s.sentinel = conf
		s.ready = func(s *Server) error {
			return waitFor(30*time.Second, "sentinel sees the replicas", func() (bool, error) {
				c := goredis.NewSentinelClient(&goredis.Options{Addr: s.Addr})
				defer c.Close()
				reps, err := c.Replicas(context.Background(), name).Result()
				return err == nil && len(reps) >= replicas, err
			})
		}
		t.Cleanup(func() { s.Stop() })
		if err := s.start(); err != nil {
			t.Fatal(err)
		}
		ss.Nodes = append(ss.Nodes, s)
	}
	return ss
}

// URL is the redis+sentinel:// URL naming every Sentinel.
func (ss *Sentinels) URL() string {
	u := "redis+sentinel://" + ss.Nodes[0].Addr + "?master_name=" + ss.Master
	for _, n := range ss.Nodes[1:] {
		u += "&addr=" + n.Addr
	}
	return u
}

// MasterAddr is where the Sentinels say the master is.
func (ss *Sentinels) MasterAddr(ctx context.Context) (string, error) {
	c := goredis.NewSentinelClient(&goredis.Options{Addr: ss.Nodes[0].Addr})
	defer c.Close()
	a, err := c.GetMasterAddrByName(ctx, ss.Master).Result()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(a[0], a[1]), nil
}

// Failover forces a failover (SENTINEL FAILOVER) and waits until the
// Sentinels name another master and it says it is one.
func (ss *Sentinels) Failover(ctx context.Context) (newMaster string, err error) {
	old, err := ss.MasterAddr(ctx)
	if err != nil {
		return "", err
	}
	c := goredis.NewSentinelClient(&goredis.Options{Addr: ss.Nodes[0].Addr})
	defer c.Close()
	if err := c.Failover(ctx, ss.Master).Err(); err != nil {
		return "", fmt.Errorf("sentinel failover: %w", err)
	}
	err = waitFor(30*time.Second, "failover away from "+old, func() (bool, error) {
		addr, err := ss.MasterAddr(ctx)
		if err != nil || addr == old {
			return false, err
		}
		m, err := info(ctx, addr, "replication")
		newMaster = addr
		return err == nil && m["role"] == "master", err
	})
	return newMaster, err
}
