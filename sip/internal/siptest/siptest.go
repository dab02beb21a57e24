package siptest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/bridge"
)

// Recordings is the recordings folder, relative to a package two levels
// below the module root (sip/pcap, sip/hep, …).
const Recordings = "../../testdata/recordings"

// Scenarios are the recordings under testdata/recordings, every one of
// them.
var Scenarios = func() []string {
	dirs, _ := filepath.Glob(filepath.Join(Recordings, "*", "sip.pcap"))
	var s []string
	for _, d := range dirs {
		s = append(s, filepath.Base(filepath.Dir(d)))
	}
	sort.Strings(s)
	return s
}()

// Lab is the lab recordings folder (testdata/lab: the call paths the
// shared recordings lack), relative like Recordings.
const Lab = "../../testdata/lab"

// LabScenarios are the recordings under testdata/lab, every one of them.
var LabScenarios = func() []string {
	dirs, _ := filepath.Glob(filepath.Join(Lab, "*", "sip.pcap"))
	var s []string
	for _, d := range dirs {
		s = append(s, filepath.Base(filepath.Dir(d)))
	}
	sort.Strings(s)
	return s
}()

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
	sort.SliceStable(acts, func(i, j int) bool {
		if acts[i].User != acts[j].User {
			return acts[i].User < acts[j].User
		}
		return acts[i].StartedAt.Before(acts[j].StartedAt)
	})
}

// ARIActivities replays a scenario's ari.jsonl through the ARI decoder
// and an engine.
func ARIActivities(t testing.TB, scenario string) []bridge.Activity {
	t.Helper()
	return recording(t, scenario, "ari.jsonl", "ari", func(f *os.File, fn func(bridge.Event)) error {
		_, err := ari.ReadRecording(f, fn)
		return err
	})
}

// AMIActivities replays a scenario's ami.txt through the AMI decoder and
// an engine.
func AMIActivities(t testing.TB, scenario string) []bridge.Activity {
	t.Helper()
	return recording(t, scenario, "ami.txt", "ami", func(f *os.File, fn func(bridge.Event)) error {
		_, err := ami.ReadRecording(f, fn)
		return err
	})
}

// ReplayARI replays file (an ari.jsonl recording) through the ARI
// decoder and an engine configured with cfg (its Source set to ari).
func ReplayARI(t testing.TB, file string, cfg bridge.Config) []bridge.Activity {
	t.Helper()
	return replayFile(t, file, "ari", cfg, func(f *os.File, fn func(bridge.Event)) error {
		_, err := ari.ReadRecording(f, fn)
		return err
	})
}

// ReplayAMI replays file (an ami.txt recording) through the AMI decoder
// and an engine configured with cfg (its Source set to ami).
func ReplayAMI(t testing.TB, file string, cfg bridge.Config) []bridge.Activity {
	t.Helper()
	return replayFile(t, file, "ami", cfg, func(f *os.File, fn func(bridge.Event)) error {
		_, err := ami.ReadRecording(f, fn)
		return err
	})
}

func recording(t testing.TB, scenario, file, source string, read func(*os.File, func(bridge.Event)) error) []bridge.Activity {
	t.Helper()
	return replayFile(t, filepath.Join(Recordings, scenario, file), source, bridge.Config{Trunks: []string{"pstn"}}, read)
}

func replayFile(t testing.TB, file, source string, cfg bridge.Config, read func(*os.File, func(bridge.Event)) error) []bridge.Activity {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg.Source = source
	acts, err := Activities(cfg, func(fn func(bridge.Event)) error {
		return read(f, fn)
	})
	if err != nil {
		t.Fatal(err)
	}
	return acts
}

// Compared are the activity fields (their JSON names) that must be equal
// whatever the source, as docs/activity.md defines the contract. A field an
// activity does not carry (forwarded_by before the engine writes it) is
// compared as empty. Ids and call_id differ (SIP has no linked id), and
// privacy is left out: SIP carries no channel variables, so only a policy
// rule can mark a SIP call private.
var Compared = []string{"user", "direction", "internal", "state", "reason", "remote_number", "ddi", "transferred_by", "forwarded_by"}

// Fields returns the compared fields of a as their JSON values.
func Fields(a bridge.Activity) map[string]string {
	b, err := json.Marshal(a)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	out := map[string]string{}
	for _, k := range Compared {
		if v, ok := m[k]; ok {
			out[k] = fmt.Sprint(v)
		} else {
			out[k] = ""
		}
	}
	return out
}

// SameActivities compares what docs/activity.md makes the contract: the
// Compared fields, and started_at, answered_at and ended_at within tol.
// Activities are paired in Sort order.
func SameActivities(want, got []bridge.Activity, tol time.Duration) []string {
	var diffs []string
	if len(want) != len(got) {
		diffs = append(diffs, fmt.Sprintf("%d activities, want %d", len(got), len(want)))
	}
	for i := 0; i < len(want) && i < len(got); i++ {
		w, g := want[i], got[i]
		wf, gf := Fields(w), Fields(g)
		for _, k := range Compared {
			if wf[k] != gf[k] {
				diffs = append(diffs, fmt.Sprintf("activity %d (user %s): %s = %q, want %q", i, w.User, k, gf[k], wf[k]))
			}
		}
		for _, d := range SameTimes(w, g, tol) {
			diffs = append(diffs, fmt.Sprintf("activity %d (user %s): %s", i, w.User, d))
		}
	}
	return diffs
}

// SameTimes compares the three times of two activities within tol.
func SameTimes(w, g bridge.Activity, tol time.Duration) []string {
	var diffs []string
	tf := func(field string, wt, gt time.Time) {
		if wt.IsZero() != gt.IsZero() || math.Abs(float64(wt.Sub(gt))) > float64(tol) {
			diffs = append(diffs, fmt.Sprintf("%s = %s, want %s", field, FmtTime(gt), FmtTime(wt)))
		}
	}
	tf("started_at", w.StartedAt, g.StartedAt)
	tf("answered_at", w.AnsweredAt, g.AnsweredAt)
	tf("ended_at", w.EndedAt, g.EndedAt)
	return diffs
}

// FmtTime writes t as activities do, "-" when zero.
func FmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(bridge.TimeFormat)
}
