package cel_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/cel"
	"github.com/callbridge/callbridge/bridge"
)

const lab = "../../testdata/lab"

func labScenarios(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(lab)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(lab, e.Name(), "cel.csv")); err == nil {
			out = append(out, e.Name())
		}
	}
	if len(out) != 25 {
		t.Fatalf("%d lab recordings under %s, want 25", len(out), lab)
	}
	return out
}

func readEvents(t *testing.T, file string, read func(*os.File, func(bridge.Event)) error) []bridge.Event {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []bridge.Event
	if err := read(f, func(ev bridge.Event) { evs = append(evs, ev) }); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return evs
}

// TestLabSameActivitiesAsARI is TestSameActivitiesAsARI over the lab
// recordings (testdata/lab), with the same documented differences, in
// `replay --all`'s view (a forwarding user's activity, reason
// forwarded, included). CEL is Asterisk's complete log: for the adopt_*
// recordings, whose ari.jsonl begins mid-call, it is compared with the
// whole call's stream (ari-full.jsonl). Recordings where ARI gives no
// activity (originates nobody picked up or Asterisk refused, a caller
// alone in a conference) must give none from CEL either.
func TestLabSameActivitiesAsARI(t *testing.T) {
	for _, cfg := range []struct {
		name string
		c    bridge.Config
	}{{"pattern", bridge.Config{Trunks: directory.Trunks}}, {"directory", directory}} {
		cfg.c.ShowForwarded = true
		for _, sc := range labScenarios(t) {
			t.Run(cfg.name+"/"+sc, func(t *testing.T) {
				file := "ari.jsonl"
				if strings.HasPrefix(sc, "adopt_") {
					file = "ari-full.jsonl"
				}
				want := activitiesWith(cfg.c, "ari", readEvents(t, filepath.Join(lab, sc, file), func(f *os.File, fn func(bridge.Event)) error {
					st, err := ari.ReadRecording(f, fn)
					if err == nil && st.Malformed != 0 {
						t.Errorf("ari: %d malformed", st.Malformed)
					}
					return err
				}))
				got := activitiesWith(cfg.c, "cel", readEvents(t, filepath.Join(lab, sc, "cel.csv"), func(f *os.File, fn func(bridge.Event)) error {
					st, err := cel.ReadRecording(f, time.UTC, fn)
					if err == nil && st.Malformed != 0 {
						t.Errorf("cel: %d malformed rows in a real recording: %v", st.Malformed, st.Problems)
					}
					return err
				}))
				if len(got) != len(want) {
					t.Fatalf("CEL gave %d activities, ARI %d:\ncel:%s\nari:%s", len(got), len(want), brief(got), brief(want))
				}
				for i := range want {
					compare(t, i, got[i], want[i])
				}
			})
		}
	}
}

// TestLabConsultAbortKeys: CEL's DTMF rows reach the engine. In
// consult_noanswer_back_to_caller the PBX's no-answer timer brings Alice
// back (no answer for the consultation); with her abort code (*1) added
// as the DTMF rows cel_custom writes for it, a moment before she is back,
// she called it off herself: cancel for her consultation and for Bob.
func TestLabConsultAbortKeys(t *testing.T) {
	l, err := cel.NewLayout(cel.LabFields, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(lab, "consult_noanswer_back_to_caller", "cel.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []cel.Row
	if _, err := l.ReadCSV(f, func(r cel.Row) { rows = append(rows, r) }); err != nil {
		t.Fatal(err)
	}
	reasons := func(rows []cel.Row) []string {
		var out []string
		for _, a := range activities("cel", mapRows(rows)) {
			out = append(out, a.User+" "+string(a.Direction)+" "+string(a.Reason))
		}
		return out
	}
	want := []string{"101 inbound answered", "101 outbound noanswer", "102 inbound noanswer"}
	if got := reasons(rows); strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("as recorded: %v, want %v", got, want)
	}
	// Alice going back to the caller: her channel's last but one
	// BRIDGE_EXIT, leaving the consultation bridge.
	var exits []int
	for i, r := range rows {
		if r.Event == cel.EventBridgeExit && strings.HasPrefix(r.ChanName, "PJSIP/101-") {
			exits = append(exits, i)
		}
	}
	var back int
	if len(exits) == 3 {
		back = exits[1]
	}
	if back == 0 {
		t.Fatal("no return to the caller in the recording")
	}
	var keyed []cel.Row
	keyed = append(keyed, rows[:back]...)
	for i, d := range []string{"*", "1"} {
		k := rows[6] // Alice's first DTMF row (the transfer feature's *)
		if k.Event != cel.EventDTMF {
			t.Fatalf("row 6 is %s, want DTMF", k.Event)
		}
		k.Time = rows[back].Time.Add(time.Duration(i-2) * 300 * time.Millisecond)
		k.Extra = `{"digit":"` + d + `","duration_ms":100}`
		keyed = append(keyed, k)
	}
	keyed = append(keyed, rows[back:]...)
	want = []string{"101 inbound answered", "101 outbound cancel", "102 inbound cancel"}
	if got := reasons(keyed); strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("with the abort code: %v, want %v", got, want)
	}
}
