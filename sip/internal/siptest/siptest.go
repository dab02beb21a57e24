package siptest

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/bridge"
)

// Scenarios are the recordings under testdata/recordings.
var Scenarios = []string{
	"attended_transfer", "inbound_answered", "inbound_busy", "inbound_missed_cancel",
	"internal_answered", "outbound_answered", "outbound_unanswered",
	"queue_local_members", "ring_group", "short_call",
}

// Recordings is the recordings folder, relative to a package two levels
// below the module root (sip/pcap, sip/hep, …).
const Recordings = "../../testdata/recordings"

// SIPConfig is the engine configuration for SIP sources in the tests.
var SIPConfig = bridge.Config{Source: "sip", Trunks: []string{"pstn"}}

// Activities runs events through an engine and returns the finished
// activities, sorted by user and start.
func Activities(cfg bridge.Config, feed func(func(bridge.Event)) error) ([]bridge.Activity, error) {
	e := bridge.New(cfg)
	var acts []bridge.Activity
	var last time.Time
	collect := func(ts []bridge.Transition) {
		for _, tr := range ts {
			if tr.Activity != nil {
				acts = append(acts, *tr.Activity)
			}
		}
	}
	err := feed(func(ev bridge.Event) {
		if ev.Time.After(last) {
			last = ev.Time
		}
		collect(e.Apply(ev))
	})
	collect(e.Flush(last.Add(time.Hour)))
	Sort(acts)
	return acts, err
}

// Sort orders activities by user, then start.
func Sort(acts []bridge.Activity) {
	sort.Slice(acts, func(i, j int) bool {
		if acts[i].User != acts[j].User {
			return acts[i].User < acts[j].User
		}
		return acts[i].StartedAt.Before(acts[j].StartedAt)
	})
}

// ARIActivities replays a scenario's ari.jsonl through an engine.
func ARIActivities(t testing.TB, scenario string) []bridge.Activity {
	t.Helper()
	f, err := os.Open(filepath.Join(Recordings, scenario, "ari.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	acts, err := Activities(bridge.Config{Source: "ari", Trunks: []string{"pstn"}}, func(fn func(bridge.Event)) error {
		_, err := ari.ReadRecording(f, fn)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) == 0 {
		t.Errorf("%s: the ARI replay gave no activities", scenario)
	}
	return acts
}

// SameActivities compares what docs/activity.md makes the contract: user,
// direction, internal, state, reason, remote number, transferred_by, and
// times within tolerance.
func SameActivities(want, got []bridge.Activity, tol time.Duration) []string {
	var diffs []string
	if len(want) != len(got) {
		diffs = append(diffs, fmt.Sprintf("%d activities, want %d", len(got), len(want)))
	}
	for i := 0; i < len(want) && i < len(got); i++ {
		w, g := want[i], got[i]
		f := func(field string, wv, gv any) {
			if wv != gv {
				diffs = append(diffs, fmt.Sprintf("user %s: %s = %v, want %v", w.User, field, gv, wv))
			}
		}
		f("user", w.User, g.User)
		f("direction", w.Direction, g.Direction)
		f("internal", w.Internal, g.Internal)
		f("state", w.State, g.State)
		f("reason", w.Reason, g.Reason)
		f("remote_number", w.RemoteNumber, g.RemoteNumber)
		f("transferred_by", w.TransferredBy, g.TransferredBy)
		tf := func(field string, wt, gt time.Time) {
			if wt.IsZero() != gt.IsZero() || math.Abs(float64(wt.Sub(gt))) > float64(tol) {
				diffs = append(diffs, fmt.Sprintf("user %s: %s = %s, want %s", w.User, field, fmtTime(gt), fmtTime(wt)))
			}
		}
		tf("started_at", w.StartedAt, g.StartedAt)
		tf("answered_at", w.AnsweredAt, g.AnsweredAt)
		tf("ended_at", w.EndedAt, g.EndedAt)
	}
	return diffs
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(bridge.TimeFormat)
}
