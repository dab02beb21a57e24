package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/bolt"
	"github.com/callbridge/callbridge/crmsync/webhook"
)

// chanSource hands the pipeline the batches it is sent, as a source that
// read each from one read would.
type chanSource chan []bridge.Event

func (c chanSource) Run(context.Context, func(bridge.Event)) error {
	panic("a BatchSource is run by RunBatches")
}

func (c chanSource) RunBatches(ctx context.Context, out func(bridge.Event), ready func()) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case evs := <-c:
			for _, ev := range evs {
				out(ev)
			}
			ready()
		}
	}
}

// BenchmarkHangupToWebhook measures what delivery latency a CRM user sees:
// from the pipeline getting the events that end a call to the webhook
// getting its activity, through the whole path with the daemon's defaults
// (journal, sink file with its fsync, policy with its start-margin check
// and the embedded store, the durable queue, delivery). One call at a
// time, each a renamed copy of inbound_answered, so no two are the same.
func BenchmarkHangupToWebhook(b *testing.B) {
	evs := events(b, "inbound_answered")
	end := endingEvent(b, evs)
	dir := b.TempDir()
	got := make(chan struct{}, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		got <- struct{}{}
	}))
	defer hook.Close()
	store, err := bolt.Open(filepath.Join(dir, "queue"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	reg := prometheus.NewRegistry()
	pol, err := crmsync.NewPolicy(crmsync.DefaultPolicyConfig(), store, reg)
	if err != nil {
		b.Fatal(err)
	}
	wh, err := webhook.New("hook", webhook.Config{URL: hook.URL, Secret: "latency-secret"}, webhook.Options{Logger: zerolog.Nop(), Registerer: reg})
	if err != nil {
		b.Fatal(err)
	}
	sink, err := OpenFile(filepath.Join(dir, "activities.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	src := make(chanSource)
	p, err := Build(Parts{
		Sources: map[string]Source{"ari": src},
		Engine:  bridge.Config{Trunks: []string{"pstn"}},
		Sink:    sink,
		CRM: &CRM{Policy: pol, Store: store, Connectors: []crmsync.Connector{wh},
			Delivery: crmsync.DefaultDeliveryConfig(), Instance: "bench"},
		Logger: zerolog.Nop(), Registerer: reg,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := p.Restore(ctx, dir); err != nil {
		b.Fatal(err)
	}
	go p.RunSources(ctx)
	go p.RunDelivery(ctx)

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for k := range b.N {
		call := copyCall(evs, k)
		src <- call[:end] // the call up to its hang-up
		t0 := time.Now()
		src <- call[end:]
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			b.Fatalf("call %d: no webhook request", k)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// endingEvent is the index of the event that finishes evs' activity.
func endingEvent(b *testing.B, evs []bridge.Event) int {
	e := bridge.New(bridge.Config{Source: "ari", Trunks: []string{"pstn"}})
	for i, ev := range evs {
		for _, tr := range e.Apply(ev) {
			if tr.Activity != nil {
				return i
			}
		}
	}
	b.Fatal("the recording finishes no activity")
	return 0
}

// copyCall is copy k of evs: its channels renamed and its times moved on
// by k minutes.
func copyCall(evs []bridge.Event, k int) []bridge.Event {
	tag := func(id string) string {
		if id == "" {
			return ""
		}
		return fmt.Sprintf("%s#%d", id, k)
	}
	out := make([]bridge.Event, len(evs))
	for i, ev := range evs {
		ev.Time = ev.Time.Add(time.Duration(k) * time.Minute)
		ev.Channel.ID, ev.Peer.ID = tag(ev.Channel.ID), tag(ev.Peer.ID)
		ev.Channel.LinkedID, ev.Peer.LinkedID = tag(ev.Channel.LinkedID), tag(ev.Peer.LinkedID)
		ev.Second, ev.Target = tag(ev.Second), tag(ev.Target)
		if ev.Channels != nil {
			chans := slices.Clone(ev.Channels)
			for c := range chans {
				chans[c].ID, chans[c].LinkedID = tag(chans[c].ID), tag(chans[c].LinkedID)
			}
			ev.Channels = chans
		}
		out[i] = ev
	}
	return out
}
