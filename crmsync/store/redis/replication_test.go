package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/redis"
	"github.com/callbridge/callbridge/crmsync/store/redis/redistest"
	"github.com/callbridge/callbridge/crmsync/store/storetest"
)

// The store passes the conformance suite on a real Redis Cluster (three
// masters, three replicas; every connector's keys share one hash slot) and
// through Sentinel, waiting for a replica on every enqueue.
func TestConformanceClusterAndSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nine redis-server processes")
	}
	cluster := redistest.StartCluster(t, 3, 1)
	master := redistest.Start(t)
	redistest.StartReplica(t, master)
	sentinels := redistest.StartSentinels(t, "callbridge", master, 3, 1)
	for name, url := range map[string]string{"cluster": cluster.URL(), "sentinel": sentinels.URL()} {
		t.Run(name, func(t *testing.T) {
			var n atomic.Int64
			prefixes := map[crmsync.Store]string{}
			clocks := map[crmsync.Store]func() time.Time{}
			open := func(t *testing.T, prefix string, now func() time.Time) crmsync.Store {
				s, err := redis.Open(context.Background(), url, redis.Options{Prefix: prefix, Now: now, WaitReplicas: 1})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				prefixes[s], clocks[s] = prefix, now
				return s
			}
			storetest.Run(t, storetest.Harness{
				New: func(t *testing.T, now func() time.Time) crmsync.Store {
					return open(t, fmt.Sprint(name, n.Add(1)), now)
				},
				Reopen: func(t *testing.T, s crmsync.Store) crmsync.Store { return open(t, prefixes[s], clocks[s]) },
				Shared: true,
			})
		})
	}
}

func activity(i int) bridge.Activity {
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	return bridge.Activity{ID: fmt.Sprintf("act-%04d", i), CallID: fmt.Sprint(i), User: "101", State: bridge.Connected,
		StartedAt: at, EndedAt: at.Add(time.Minute), Source: "ari"}
}

// queued counts the jobs a store holds for connector crm: due, in flight
// or delayed.
func queued(t *testing.T, s crmsync.Store) int64 {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, q := range st {
		if q.Connector == "crm" {
			n += q.Ready + q.InFlight + q.Delayed
		}
	}
	return n
}

// The loss case: Redis replicates asynchronously, so a master killed right
// after answering writes can take them with it, and its promoted replica
// never had them. With wait_replicas the enqueue answers only once a
// replica has the job: every acknowledged activity survives the master's
// death; while the replica cannot take writes, nothing is acknowledged.
// Without it, the same kill loses acknowledged activities, which is what
// the first case shows (and why the others are not vacuous).
func TestReplicationLoss(t *testing.T) {
	ctx := context.Background()
	const n = 40
	for _, tc := range []struct {
		name   string
		wait   int
		paused bool // the replica is cut off while the writes are made
	}{
		{"no wait, replica behind", 0, true},
		{"wait, replica behind", 1, true},
		{"wait", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			master := redistest.Start(t)
			replica := redistest.StartReplica(t, master)
			// While the replica is cut off each attempt waits the whole
			// timeout; otherwise a loaded machine gets the time it needs.
			timeout := 2 * time.Second
			if tc.paused {
				timeout = 300 * time.Millisecond
			}
			s, err := redis.Open(ctx, master.URL(), redis.Options{Prefix: "loss", WaitReplicas: tc.wait, WaitTimeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if tc.paused {
				// The replica loses its master: what is written now
				// reaches only the master.
				if _, err := replica.Do(ctx, "REPLICAOF", "127.0.0.1", "1"); err != nil {
					t.Fatal(err)
				}
			}
			acked := 0
			began := time.Now()
			for i := range n {
				_, err := s.Enqueue(ctx, "crm", activity(i))
				for try := 0; !tc.paused && errors.Is(err, redis.ErrNotReplicated) && try < 5; try++ {
					_, err = s.Enqueue(ctx, "crm", activity(i)) // as intake does
				}
				switch {
				case err == nil:
					acked++
				case tc.wait > 0 && errors.Is(err, redis.ErrNotReplicated):
				default:
					t.Fatalf("enqueue %d: %v", i, err)
				}
				if tc.paused && tc.wait > 0 && i == 2 {
					break // each attempt waits out the timeout
				}
			}
			took := time.Since(began)
			// Right after the last answer: the master dies, the replica
			// takes over.
			master.Kill()
			if err := replica.Promote(ctx); err != nil {
				t.Fatal(err)
			}
			s2, err := redis.Open(ctx, replica.URL(), redis.Options{Prefix: "loss"})
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			kept := queued(t, s2)
			t.Logf("%d acknowledged in %s, %d on the promoted replica", acked, took, kept)
			switch {
			case tc.wait == 0:
				if acked != n || kept >= int64(acked) {
					t.Fatalf("without waiting: %d acknowledged, %d kept; the loss this option prevents did not happen", acked, kept)
				}
			case tc.paused:
				if acked != 0 {
					t.Fatalf("%d enqueues acknowledged with no replica taking them", acked)
				}
			default:
				if acked != n || kept != n {
					t.Fatalf("%d acknowledged, %d kept after the failover", acked, kept)
				}
			}
		})
	}
}

// A job due later (a wrap-up's completion at its timeout) waits for the
// replica like an activity: with the replica cut off EnqueueJob fails with
// ErrNotReplicated, so the API does not answer that it kept it; with the
// replica following, the job is in the delayed set of the replica promoted
// after the master dies.
func TestWaitDelayedJob(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	master := redistest.Start(t)
	replica := redistest.StartReplica(t, master)
	open := func(url string, timeout time.Duration) *redis.Store {
		s, err := redis.Open(ctx, url, redis.Options{Prefix: "delayed", WaitReplicas: 1, WaitTimeout: timeout,
			Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := open(master.URL(), 2*time.Second)
	if _, err := s.EnqueueJob(ctx, "crm", storetest.Update("kept"), now.Add(time.Hour)); err != nil {
		t.Fatalf("with the replica following: %v", err)
	}
	if _, err := replica.Do(ctx, "REPLICAOF", "127.0.0.1", "1"); err != nil {
		t.Fatal(err)
	}
	cut := open(master.URL(), 200*time.Millisecond)
	if _, err := cut.EnqueueJob(ctx, "crm", storetest.Update("lost"), now.Add(time.Hour)); !errors.Is(err, redis.ErrNotReplicated) {
		t.Fatalf("with the replica cut off: %v, want ErrNotReplicated", err)
	}
	master.Kill()
	if err := replica.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	s2, err := redis.Open(ctx, replica.URL(), redis.Options{Prefix: "delayed"})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	st, err := s2.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var delayed int64
	for _, q := range st {
		if q.Connector == "crm" {
			delayed += q.Delayed
		}
	}
	if delayed != 1 {
		t.Fatalf("%d delayed jobs on the promoted replica, want the one acknowledged", delayed)
	}
}
