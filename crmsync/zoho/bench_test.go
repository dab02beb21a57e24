package zoho_test

import (
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/internal/drain"
	"github.com/callbridge/callbridge/crmsync/zoho"
	"github.com/callbridge/callbridge/crmsync/zoho/fakezoho"
)

// Zoho's API credits scaled down: 20 per rolling second (an org's are
// counted over 24 hours: 50,000 plus 250 to 2,000 per user licence).
const (
	benchLimit  = 20
	benchWindow = time.Second
)

// BenchmarkDrainBacklog drains 10,000 activities in inserts of 100 from 4
// workers against the limited fake.
func BenchmarkDrainBacklog(b *testing.B) {
	const n = 10_000
	for b.Loop() {
		e := newEnv(b, fakezoho.Options{Credits: benchLimit, CreditWindow: benchWindow, Now: time.Now})
		z := e.connector(b, e.config(), zoho.Options{Logger: zerolog.Nop(), Now: time.Now})
		ds := crmtest.Backlog("drain", n)
		for i := range ds {
			ds[i].Activity.EndedAt = time.Now() // fresh: no lookups
		}
		took := drain.Run(b, ds, zoho.MaxBatchSize, 4, benchWindow, z.PushBatch)
		requests, limited, _ := e.fake.Stats()
		drain.Report(b, n, requests-limited, limited, took, benchLimit, benchWindow)
		if got := len(e.fake.Calls()); got != n {
			b.Fatalf("%d calls", got)
		}
	}
}
