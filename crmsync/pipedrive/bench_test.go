package pipedrive_test

import (
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync/internal/drain"
	"github.com/callbridge/callbridge/crmsync/pipedrive"
	"github.com/callbridge/callbridge/crmsync/pipedrive/fakepipedrive"
)

// Pipedrive's burst limit with its window scaled down: 60 requests per
// 50 ms, 1,200 a second. (An API token gets 20 to 120 per 2 s by plan.)
// Call logs have no batch endpoint: a backlog costs one request per
// activity.
const (
	benchLimit  = 60
	benchWindow = 50 * time.Millisecond
)

// BenchmarkDrainBacklog drains 10,000 activities one call log at a time
// from 4 workers against the limited fake.
func BenchmarkDrainBacklog(b *testing.B) {
	const n = 10_000
	for b.Loop() {
		e := newEnv(b, fakepipedrive.Options{Burst: benchLimit, BurstWindow: benchWindow, Now: time.Now})
		p := e.connector(b, e.config(), pipedrive.Options{Logger: zerolog.Nop(), Now: time.Now})
		ds := backlog(n)
		took := drain.Run(b, ds, 1, 4, benchWindow, drain.One(p))
		requests, limited, _ := e.fake.Stats()
		drain.Report(b, n, requests-limited, limited, took, benchLimit, benchWindow)
		if got := e.fake.CallLogs(); got != n {
			b.Fatalf("%d call logs", got)
		}
	}
}
