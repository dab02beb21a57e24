package pipeline

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/bolt"
	"github.com/callbridge/callbridge/crmsync/webhook"
	"github.com/callbridge/callbridge/internal/phone"
)

// BenchmarkIntake measures what the path costs per event after decode, as
// the daemon runs it for the ARI source: source.add and source.ready in
// batches of 16 events (a read's worth on a busy PBX), the engine with its
// journal, remote numbers normalised for a region, the sink file with its
// sync; queue adds the policy's start-margin check and the enqueue in the
// embedded store, with a webhook connector configured (delivery itself
// does not run). One op is one pass over the events of every recording,
// each pass a renamed copy an hour of event time after the previous
// recording, so no call repeats and the policy passes what it would live;
// ns/event divides by the events. The files are under $TMPDIR: point it
// at a disk, not a tmpfs, to see the syncs, or at a tmpfs to see the CPU.
func BenchmarkIntake(b *testing.B) {
	names, _ := filepath.Glob("../../testdata/recordings/*/ari.jsonl")
	var recs [][]bridge.Event
	total := 0
	for _, path := range names {
		evs := events(b, filepath.Base(filepath.Dir(path)))
		recs = append(recs, evs)
		total += len(evs)
	}
	b.Run("sink", func(b *testing.B) { benchIntake(b, recs, total, false) })
	b.Run("queue", func(b *testing.B) { benchIntake(b, recs, total, true) })
}

func benchIntake(b *testing.B, recs [][]bridge.Event, total int, queue bool) {
	dir := b.TempDir()
	sink, err := OpenFile(filepath.Join(dir, "activities.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	reg := prometheus.NewRegistry()
	parts := Parts{
		Sources:    map[string]Source{"ari": make(chanSource)},
		Engine:     bridge.Config{Trunks: []string{"pstn"}},
		Normalizer: phone.NewNormalizer("FI"), // the race kit's default_region
		Sink:       sink,
		Logger:     zerolog.Nop(), Registerer: reg,
	}
	if queue {
		store, err := bolt.Open(filepath.Join(dir, "queue"), bolt.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer store.Close()
		pol, err := crmsync.NewPolicy(crmsync.DefaultPolicyConfig(), store, reg)
		if err != nil {
			b.Fatal(err)
		}
		wh, err := webhook.New("hook", webhook.Config{URL: "http://127.0.0.1:1/hook", Secret: "intake-secret"}, webhook.Options{Logger: zerolog.Nop(), Registerer: reg})
		if err != nil {
			b.Fatal(err)
		}
		parts.CRM = &CRM{Policy: pol, Store: store, Connectors: []crmsync.Connector{wh},
			Delivery: crmsync.DefaultDeliveryConfig(), Instance: "bench"}
	}
	p, err := Build(parts)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if err := p.Restore(context.Background(), dir); err != nil {
		b.Fatal(err)
	}
	s := p.sources[0]
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	next := 0
	pass := func() []bridge.Event {
		out := make([]bridge.Event, 0, total)
		for _, evs := range recs {
			k := next
			next++
			c := copyCall(evs, k)
			shift := base.Add(time.Duration(k) * time.Hour).Sub(c[0].Time)
			for i := range c {
				c[i].Time = c[i].Time.Add(shift)
			}
			out = append(out, c...)
		}
		return out
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		evs := pass()
		b.StartTimer()
		for i, ev := range evs {
			s.add(ev)
			if i%16 == 15 {
				s.ready()
			}
		}
		s.ready()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*total), "ns/event")
	b.ReportMetric(0, "ns/op")
}
