package faulttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/crmsync/store/redis/redistest"
)

// speed is the fake PBX's clock: twenty seconds of calls every second,
// with load_50's fifty calls at once as a burst of some 9,000 events a
// second, faster than callbridge reads, journals and queues them.
const speed = 20

// size is the CI size, or the full one with -faulttest.full.
func size(ci, fullSize int) int {
	if *full {
		return fullSize
	}
	return ci
}

// TestFaults: one callbridge on Redis follows a PBX that never waits for
// it, is SIGKILLed at seeded moments (one of them mid-burst, with events
// unread in its socket that ARI never sends again) and restarted after
// down times during which calls begin and end, while Redis is SIGKILLed
// and restarted on its append-only file and the CRM fails 30 % of
// requests. Every activity arrives, once, field by field as the fault-free
// replay of its source gives it.
func TestFaults(t *testing.T) {
	skipRace(t)
	r := newRig(t, scenario{rounds: size(6, 60), speed: speed, instances: []string{"a"}})
	fs := r.schedule(size(4, 24), r.daemons, true)
	r.play(fs, 90*time.Second)
	r.stop()
	r.check()
}

// eventTime is the PBX's time at event i of the workload (the newest
// timestamp up to it).
func (w *workload) eventTime(i int) time.Time {
	var last time.Time
	for _, l := range w.rec.Lines[:min(i+1, len(w.rec.Lines))] {
		if ev, ok, err := ari.Decode(l); err == nil && ok && ev.Time.After(last) {
			last = ev.Time
		}
	}
	return last
}

// downAcross is a scenario of one callbridge SIGKILLed at event from and
// started again at event to, while the calls between begin and end.
func downAcross(t *testing.T, mutation string, rounds int, from, to float64, settle time.Duration) *rig {
	r := newRig(t, scenario{rounds: rounds, speed: speed, mutation: mutation, instances: []string{"g"}})
	d := r.daemons[0]
	r.play([]fault{
		{int(from * float64(r.w.events)), "SIGKILL callbridge", func(*rig) error { d.kill(); return nil }},
		{int(to * float64(r.w.events)), "start callbridge again", func(*rig) error { return d.start() }},
	}, settle)
	r.stop()
	return r
}

// TestDownAcrossWholeCalls: callbridge is down (SIGKILLed) while whole
// calls begin and end; when it comes back, every one of them is delivered
// once, from CEL, field by field as CEL gives it; the calls before and
// after as ARI gave them.
func TestDownAcrossWholeCalls(t *testing.T) {
	skipRace(t)
	const from, to = 0.1, 0.6
	r := downAcross(t, "", 1, from, to, 60*time.Second)
	r.check()
	// The calls wholly inside the down time are there, from CEL.
	lo, hi := r.w.eventTime(int(from*float64(r.w.events))), r.w.eventTime(int(to*float64(r.w.events)))
	r.crm.mu.Lock()
	defer r.crm.mu.Unlock()
	inside := 0
	for id, a := range r.w.fromARI {
		if !r.w.need[id] || !a.StartedAt.After(lo) || !a.EndedAt.Before(hi) {
			continue
		}
		inside++
		keys := r.crm.keys[id]
		if len(keys) != 1 || r.crm.records[keys[0]].act.Source != "cel" {
			t.Errorf("activity %s (%s), wholly in the down time: %d records, not from CEL", id, r.w.what[id], len(keys))
		}
	}
	if inside < 5 {
		t.Errorf("only %d activities wholly in the down time", inside)
	}
	t.Logf("%d activities began and ended while callbridge was down", inside)
}

// TestMutationsFail proves the suite can fail: with the crash journal off
// (and with it the mark of the last event, which says where the gap CEL
// must fill begins), the scenario above loses the calls of the down time;
// with a queue that drops one activity in 16, the suite with its faults
// loses those. Each run must report activities missing.
func TestMutationsFail(t *testing.T) {
	skipRace(t)
	for _, m := range []string{"nojournal", "skipqueue16"} {
		t.Run(m, func(t *testing.T) {
			var r *rig
			if m == "nojournal" {
				r = downAcross(t, m, 1, 0.1, 0.6, 15*time.Second)
			} else {
				// One process sees them all (each counts from its start).
				r = newRig(t, scenario{rounds: 2, speed: speed, mutation: m, instances: []string{"m"}})
				r.play(r.schedule(0, r.daemons, true), 15*time.Second)
				r.stop()
			}
			ps := r.problems()
			if len(ps) == 0 {
				t.Fatalf("the suite passed with mutation %s: it cannot tell a broken guarantee", m)
			}
			t.Logf("the suite fails with mutation %s, as it must (%d problems); the first: %s", m, len(ps), ps[0])
		})
	}
}

// TestInstancesCluster: three callbridge instances, each with its own ARI
// application and state directory, follow one PBX and share a real Redis
// Cluster (three masters, three replicas), waiting for a replica on every
// enqueue; one is SIGKILLed mid-run and restarted. Each activity is
// delivered once in effect.
func TestInstancesCluster(t *testing.T) {
	skipRace(t)
	cl := redistest.StartCluster(t, 3, 1)
	r := newRig(t, scenario{rounds: size(2, 20), speed: speed, instances: names("c", 3), redisURL: cl.URL(), waitReplicas: 1})
	r.play(r.schedule(size(1, 6), r.daemons[:1], false), 90*time.Second)
	r.stop()
	r.check()
}

// TestInstancesSentinel: the same three instances on a master, a replica
// and three Sentinels, with a failover forced in the middle of the run
// (SENTINEL FAILOVER) and an instance SIGKILLed. Waiting for the replica
// keeps what the old master acknowledged.
func TestInstancesSentinel(t *testing.T) {
	skipRace(t)
	master := redistest.Start(t)
	redistest.StartReplica(t, master)
	ss := redistest.StartSentinels(t, "callbridge", master, 3, 1)
	r := newRig(t, scenario{rounds: size(2, 20), speed: speed, instances: names("s", 3), redisURL: ss.URL(), waitReplicas: 1})
	fs := r.schedule(size(1, 6), r.daemons[:1], false)
	fs = append(fs, fault{at: r.w.events / 2, what: "SENTINEL FAILOVER", do: func(*rig) error {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		addr, err := ss.Failover(ctx)
		if err != nil {
			return fmt.Errorf("failover: %w", err)
		}
		r.t.Logf("the master is now %s (was %s)", addr, master.Addr)
		return nil
	}})
	r.play(fs, 90*time.Second)
	r.stop()
	r.check()
}
