package salesforce_test

import (
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/internal/drain"
	"github.com/callbridge/callbridge/crmsync/salesforce"
	"github.com/callbridge/callbridge/crmsync/salesforce/fakesalesforce"
)

// The org's API allowance scaled down so a drain meets it within seconds:
// 5 requests per second. (Salesforce's own is a rolling 24 hours, 100,000
// requests and more for Enterprise Edition.)
const (
	benchLimit  = 5
	benchWindow = time.Second
)

// BenchmarkDrainBacklog drains 10,000 activities with sObject Collections
// (200 Tasks a request) from 4 workers against the limited fake.
func BenchmarkDrainBacklog(b *testing.B) {
	const n = 10_000
	for b.Loop() {
		e := newEnv(b, fakesalesforce.Options{RequestLimit: benchLimit, RequestWindow: benchWindow, Now: time.Now})
		s := e.connector(b, e.config(), salesforce.Options{Logger: zerolog.Nop(), Now: time.Now})
		ds := crmtest.Backlog("drain", n)
		for i := range ds {
			ds[i].Activity.EndedAt = time.Now() // fresh: no lookups
		}
		took := drain.Run(b, ds, salesforce.MaxBatchSize, 4, benchWindow, s.PushBatch)
		requests, limited, _ := e.fake.Stats()
		drain.Report(b, n, requests-limited, limited, took, benchLimit, benchWindow)
		if len(e.fake.Tasks()) != n {
			b.Fatalf("%d Tasks", len(e.fake.Tasks()))
		}
	}
}
