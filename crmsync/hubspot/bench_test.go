package hubspot_test

import (
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/hubspot"
	"github.com/callbridge/callbridge/crmsync/hubspot/fakehubspot"
	"github.com/callbridge/callbridge/crmsync/internal/drain"
)

// HubSpot's burst limit scaled down, 20 requests per rolling second (a
// private app on Free or Starter gets 100 per 10 s, on Professional or
// Enterprise 190).
const (
	benchLimit  = 20
	benchWindow = time.Second
)

// BenchmarkDrainBacklog drains 10,000 activities with the batch create
// endpoint (100 calls a request) from 4 workers against the limited fake.
func BenchmarkDrainBacklog(b *testing.B) {
	const n = 10_000
	for b.Loop() {
		e := newEnv(b, fakehubspot.Options{TenSecondly: benchLimit, Window: benchWindow, Now: time.Now})
		h := e.connector(b, e.config(), hubspot.Options{Logger: zerolog.Nop(), Now: time.Now})
		ds := crmtest.Backlog("drain", n)
		for i := range ds {
			ds[i].Activity.EndedAt = time.Now() // fresh: no lookups
		}
		took := drain.Run(b, ds, hubspot.MaxBatchSize, 4, benchWindow, h.PushBatch)
		requests, limited := e.fake.Stats()
		drain.Report(b, n, requests-limited, limited, took, benchLimit, benchWindow)
		if got := len(e.fake.Calls()); got != n {
			b.Fatalf("%d calls", got)
		}
	}
}
