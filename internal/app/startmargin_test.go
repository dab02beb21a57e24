package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/bolt"
	"github.com/callbridge/callbridge/internal/app"
)

// replayed is what `callbridge replay` gives for one source of a recording.
func replayed(t *testing.T, source, file string) []bridge.Activity {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := app.Replay(app.ReplayOptions{Source: source, File: file}, &out, &errOut); err != nil {
		t.Fatalf("%s: %v\n%s", file, err, errOut.String())
	}
	var as []bridge.Activity
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var a bridge.Activity
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		as = append(as, a)
	}
	return as
}

// The load_50 recording: fifty real calls from one number to one user,
// 100 ms apart. With a 5 s start margin they stay fifty activities; the
// same calls seen again through the SIP source, by the same policy and
// store (as a daemon with ARI and HEP on sees them), are all duplicates.
func TestStartMarginKeepsConcurrentCalls(t *testing.T) {
	rec := filepath.Join("..", "..", "testdata", "recordings", "load_50")
	ari := replayed(t, "ari", filepath.Join(rec, "ari.jsonl"))
	sip := replayed(t, "sip", filepath.Join(rec, "sip.pcap"))
	if len(ari) != 50 || len(sip) == 0 {
		t.Fatalf("%d ARI and %d SIP activities", len(ari), len(sip))
	}
	store, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := crmsync.DefaultPolicyConfig()
	cfg.StartMargin = 5 * time.Second
	p, err := crmsync.NewPolicy(cfg, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	decide := func(as []bridge.Activity) (accepted int, reasons map[string]int) {
		reasons = map[string]int{}
		for _, a := range as {
			ok, reason, err := p.Decide(context.Background(), a)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				accepted++
			} else {
				reasons[reason]++
			}
		}
		return accepted, reasons
	}
	if n, r := decide(ari); n != 50 {
		t.Errorf("ARI: %d of 50 calls accepted, dropped %v", n, r)
	}
	if n, r := decide(sip); n != 0 || r[crmsync.DropStartMargin] != len(sip) {
		t.Errorf("SIP, the same calls again: %d accepted, dropped %v", n, r)
	}
}
