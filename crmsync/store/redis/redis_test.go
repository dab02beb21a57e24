package redis_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/redis"
	"github.com/callbridge/callbridge/crmsync/store/redis/redistest"
	"github.com/callbridge/callbridge/crmsync/store/storetest"
)

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	prefixes := map[crmsync.Store]string{}
	clocks := map[crmsync.Store]func() time.Time{}
	open := func(t *testing.T, prefix string, now func() time.Time) crmsync.Store {
		s, err := redis.Open(context.Background(), srv.URL(), redis.Options{Prefix: prefix, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		prefixes[s], clocks[s] = prefix, now
		return s
	}
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T, now func() time.Time) crmsync.Store {
			return open(t, fmt.Sprint("t", n.Add(1)), now)
		},
		Reopen: func(t *testing.T, s crmsync.Store) crmsync.Store { return open(t, prefixes[s], clocks[s]) },
		Shared: true,
	})
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"redis://127.0.0.1:6379/0", true},
		{"rediss://user:pw@redis.example:6380/1", true},
		{"redis+sentinel://:pw@10.0.0.1:26379?master_name=mymaster&addr=10.0.0.2:26379", true},
		{"redis+sentinel://10.0.0.1:26379", false},
		{"redis+cluster://10.0.0.1:7000?addr=10.0.0.2:7000", true},
		{"http://x", false},
		{"redis+mesh://x", false},
		{"redis://:hunter2secret@host:6379?bogus=1", false},
	}
	for _, tt := range tests {
		c, err := redis.ParseURL(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("ParseURL(%q) error %v, want ok=%v", tt.url, err, tt.ok)
		}
		if err != nil && contains(err.Error(), "hunter2secret") {
			t.Errorf("error leaks the password: %v", err)
		}
		if c != nil {
			c.Close()
		}
	}
}

func contains(s, sub string) bool {
	return len(sub) > 0 && len(s) >= len(sub) && (s == sub || index(s, sub) >= 0)
}

func index(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
