package creatio_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/creatio"
	"github.com/callbridge/callbridge/crmsync/creatio/fakecreatio"
	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/internal/drain"
)

// Creatio publishes no API rate limit; the fake's stands for whatever
// throttles in front of a site: 60 requests per 50 ms.
const (
	benchLimit  = 60
	benchWindow = 50 * time.Millisecond
)

// BenchmarkDrainBacklog drains 10,000 activities, one Call record a
// request (write: call), from 4 workers against the limited fake.
func BenchmarkDrainBacklog(b *testing.B) {
	const n = 10_000
	for b.Loop() {
		e := newEnv(b, fakecreatio.Options{Limit: benchLimit, Window: benchWindow, Now: time.Now})
		cfg := e.config()
		cfg.Write = creatio.WriteCall
		k := e.connector(b, cfg, creatio.Options{Logger: zerolog.Nop(), Now: time.Now})
		ds := make([]crmsync.Delivery, n)
		for i := range ds {
			a := crmtest.Activity(fmt.Sprintf("drain-%05d", i))
			a.EndedAt = time.Now()
			ds[i] = crmtest.DeliveryOf(a)
		}
		took := drain.Run(b, ds, 1, 4, benchWindow, drain.One(k))
		requests, limited, _ := e.fake.Stats()
		drain.Report(b, n, requests-limited, limited, took, benchLimit, benchWindow)
		if got := e.fake.Count("Call"); got != n {
			b.Fatalf("%d calls", got)
		}
	}
}
