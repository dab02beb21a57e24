package pipeline

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/bolt"
)

// countingStore counts the store steps the intake takes.
type countingStore struct {
	*bolt.Store
	single, batches int
}

func (s *countingStore) ReserveStart(ctx context.Context, k crmsync.StartKey) (string, error) {
	s.single++
	return s.Store.ReserveStart(ctx, k)
}

func (s *countingStore) Enqueue(ctx context.Context, c string, a bridge.Activity) (bool, error) {
	s.single++
	return s.Store.Enqueue(ctx, c, a)
}

func (s *countingStore) ReserveStarts(ctx context.Context, keys []crmsync.StartKey) ([]string, error) {
	s.batches++
	return s.Store.ReserveStarts(ctx, keys)
}

func (s *countingStore) EnqueueJobs(ctx context.Context, jobs []crmsync.NewJob) ([]bool, error) {
	s.batches++
	return s.Store.EnqueueJobs(ctx, jobs)
}

func (s *countingStore) Admit(ctx context.Context, keys []crmsync.StartKey, jobs [][]crmsync.NewJob) ([]string, error) {
	s.batches++
	return s.Store.Admit(ctx, keys, jobs)
}

// intake builds the policy and queue stages over a fresh store.
func intake(t *testing.T) (Stages, *countingStore) {
	b, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	s := &countingStore{Store: b}
	pol, err := crmsync.NewPolicy(crmsync.PolicyConfig{StartMargin: 2 * time.Second, DurationLimit: 3 * time.Second}, s, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return Stages{Admit{Policy{Policy: pol, Log: zerolog.Nop()}, Queue{Store: s, Connectors: []string{"a", "b"}, Log: zerolog.Nop()}}}, s
}

// A batch of activities goes through the policy and the queue in one store
// step, and each activity gets what it gets one by one: drops by the
// rules, duplicates within the batch by the start margin, the rest queued
// for every connector.
func TestIntakeBatchIsOneStoreStep(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 16, 11, 10, 0, time.UTC)
	act := func(id string, start time.Duration, talk float64) bridge.Activity {
		return bridge.Activity{ID: id, CallID: "call-" + id, User: "101", RemoteNumber: "+358401234567",
			State: bridge.Connected, StartedAt: t0.Add(start), TalkSeconds: talk, Source: "ari"}
	}
	twin := act("twin", time.Second, 60)
	twin.Source, twin.CallID = "sip", "sip-call" // the first call, seen through SIP
	as := []bridge.Activity{
		act("first", 0, 60),
		act("short", time.Minute, 1), // under duration_limit
		twin,
		act("second", 5*time.Minute, 60),
	}
	ctx := context.Background()

	one, ones := intake(t)
	var want []bool
	for _, a := range as {
		want = append(want, one.Handle(ctx, a))
	}
	batch, batches := intake(t)
	got := batch.HandleBatch(ctx, as)
	if !slices.Equal(got, want) || fmt.Sprint(want) != "[true false false true]" {
		t.Fatalf("batch passed %v, one by one %v", got, want)
	}
	if batches.batches != 1 || batches.single != 0 {
		t.Errorf("the batch took %d batch steps and %d single ones, want 1 and 0", batches.batches, batches.single)
	}
	// One by one: a check per activity the rules pass, an enqueue per
	// accepted activity and connector.
	if n := ones.single + ones.batches; n != 3+2*2 {
		t.Errorf("one by one took %d store steps, want 7", n)
	}
	for _, st := range []*countingStore{ones, batches} {
		for _, c := range []string{"a", "b"} {
			for id, state := range map[string]crmsync.JobState{"first": crmsync.JobQueued, "second": crmsync.JobQueued, "twin": crmsync.JobUnknown, "short": crmsync.JobUnknown} {
				if got, err := st.JobState(ctx, c, id); err != nil || got != state {
					t.Errorf("%s/%s: %v %v, want %v", c, id, got, err, state)
				}
			}
		}
	}
}
