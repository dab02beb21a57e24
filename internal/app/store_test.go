package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync/store/redis"
	"github.com/callbridge/callbridge/crmsync/store/redis/redistest"
	"github.com/callbridge/callbridge/internal/app"
)

// store.wait_replicas and store.wait_timeout reach the store: on a master
// without replicas an enqueue is refused once store.wait_timeout has run
// out, and with a replica (or without waiting) it is kept.
func TestStoreWaitReplicas(t *testing.T) {
	master := redistest.Start(t)
	ctx := context.Background()
	for _, tc := range []struct {
		wait    int
		replica bool
		ok      bool
		// timeout: short where the wait must run out (its message names
		// it); long where a replica answers, so a loaded machine's slow
		// replica does not fail it.
		timeout string
	}{{0, false, true, "200ms"}, {1, false, false, "200ms"}, {1, true, true, "10s"}} {
		t.Run(fmt.Sprintf("wait %d replica %v", tc.wait, tc.replica), func(t *testing.T) {
			if tc.replica {
				redistest.StartReplica(t, master)
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "callbridge.yaml")
			yaml := fmt.Sprintf("state_dir: %s\nstore: {type: redis, redis_url: %q, redis_prefix: w%d%v, wait_replicas: %d, wait_timeout: %s}\n",
				dir, master.URL(), tc.wait, tc.replica, tc.wait, tc.timeout)
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := app.OpenStore(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			began := time.Now()
			_, err = s.Enqueue(ctx, "crm", bridge.Activity{ID: "a1", CallID: "1", User: "101"})
			if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, redis.ErrNotReplicated)) {
				t.Fatalf("enqueue: %v", err)
			}
			// Refused once the configured wait ran out, not the default 2s.
			if !tc.ok && (time.Since(began) < 200*time.Millisecond || !strings.Contains(err.Error(), "within 200ms")) {
				t.Errorf("refused after %s (%v), want after wait_timeout 200ms", time.Since(began), err)
			}
		})
	}
}
