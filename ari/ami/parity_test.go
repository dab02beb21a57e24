package ami_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/bridge"
)

const recordings = "../../testdata/recordings"

func scenarios(t testing.TB) []string {
	t.Helper()
	ents, err := os.ReadDir(recordings)
	if err != nil {
		t.Fatalf("recordings: %v", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	if len(out) == 0 {
		t.Fatalf("no recordings under %s", recordings)
	}
	return out
}

func amiEvents(t testing.TB, scenario string) []bridge.Event {
	t.Helper()
	f, err := os.Open(filepath.Join(recordings, scenario, "ami.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []bridge.Event
	st, err := ami.ReadRecording(f, func(ev bridge.Event) { evs = append(evs, ev) })
	if err != nil {
		t.Fatalf("%s: ami.ReadRecording: %v", scenario, err)
	}
	if st.Malformed != 0 {
		t.Errorf("%s: %d malformed AMI messages in a real recording: %v", scenario, st.Malformed, st.Problems)
	}
	return evs
}

func ariEvents(t testing.TB, scenario string) []bridge.Event {
	t.Helper()
	f, err := os.Open(filepath.Join(recordings, scenario, "ari.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []bridge.Event
	if _, err := ari.ReadRecording(f, func(ev bridge.Event) { evs = append(evs, ev) }); err != nil {
		t.Fatalf("%s: ari.ReadRecording: %v", scenario, err)
	}
	return evs
}

// activities runs events through an engine and returns every finished
// activity, flushing what is still open at the last event's time.
func activities(source string, evs []bridge.Event) []bridge.Activity {
	eng := bridge.New(bridge.Config{Source: source, Trunks: []string{"pstn"}})
	var out []bridge.Activity
	collect := func(ts []bridge.Transition) {
		for _, tr := range ts {
			if tr.Activity != nil {
				out = append(out, *tr.Activity)
			}
		}
	}
	var last time.Time
	for _, ev := range evs {
		collect(eng.Apply(ev))
		if ev.Time.After(last) {
			last = ev.Time
		}
	}
	collect(eng.Flush(last))
	sort.Slice(out, func(i, j int) bool {
		if out[i].User != out[j].User {
			return out[i].User < out[j].User
		}
		return out[i].Direction < out[j].Direction
	})
	return out
}

func closeTimes(a, b time.Time) bool {
	d := a.Sub(b)
	return a.IsZero() == b.IsZero() && d < 500*time.Millisecond && d > -500*time.Millisecond
}

// TestSameActivitiesAsARI is the contract that makes AMI a first-class
// source: a call observed over AMI gives the activities the same call gives
// over ARI.
func TestSameActivitiesAsARI(t *testing.T) {
	for _, sc := range scenarios(t) {
		t.Run(sc, func(t *testing.T) {
			want := activities("ari", ariEvents(t, sc))
			got := activities("ami", amiEvents(t, sc))
			if len(got) != len(want) {
				t.Fatalf("AMI gave %d activities, ARI %d:\nami: %s\nari: %s", len(got), len(want), brief(got), brief(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.User != w.User || g.Direction != w.Direction || g.Internal != w.Internal ||
					g.State != w.State || g.Reason != w.Reason || g.RemoteNumber != w.RemoteNumber ||
					// Beyond the required fields: the rest of the contract
					// the CRM sees should agree too.
					g.RemoteName != w.RemoteName || g.DDI != w.DDI || g.TransferredBy != w.TransferredBy ||
					g.LocalNumber != w.LocalNumber || g.Privacy != w.Privacy || g.ID != w.ID {
					t.Errorf("activity %d differs:\nami: %s\nari: %s", i, brief(got[i:i+1]), brief(want[i:i+1]))
				}
				if !closeTimes(g.StartedAt, w.StartedAt) || !closeTimes(g.AnsweredAt, w.AnsweredAt) || !closeTimes(g.EndedAt, w.EndedAt) {
					t.Errorf("activity %d (%s %s) times differ: ami %v/%v/%v, ari %v/%v/%v", i, g.User, g.Direction,
						g.StartedAt, g.AnsweredAt, g.EndedAt, w.StartedAt, w.AnsweredAt, w.EndedAt)
				}
				if g.Source != "ami" {
					t.Errorf("activity %d: source %q, want ami", i, g.Source)
				}
			}
		})
	}
}

func brief(as []bridge.Activity) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "[%s %s internal=%v %s/%s remote=%q name=%q ddi=%q by=%q privacy=%q] ",
			a.User, a.Direction, a.Internal, a.State, a.Reason, a.RemoteNumber, a.RemoteName, a.DDI, a.TransferredBy, a.Privacy)
	}
	return b.String()
}

// TestSameCallAsARI checks, independently of the engine, that both sources
// describe the same channels, dials, bridge memberships and transfers.
func TestSameCallAsARI(t *testing.T) {
	for _, sc := range scenarios(t) {
		t.Run(sc, func(t *testing.T) {
			got, want := describe(amiEvents(t, sc)), describe(ariEvents(t, sc))
			for _, k := range []string{"channels", "dials", "bridges", "transfers"} {
				if !slices.Equal(got[k], want[k]) {
					t.Errorf("%s differ:\nami: %q\nari: %q", k, got[k], want[k])
				}
			}
		})
	}
}

// describe reduces a stream to sorted, de-duplicated facts.
func describe(evs []bridge.Event) map[string][]string {
	sets := map[string]map[string]bool{"channels": {}, "dials": {}, "bridges": {}, "transfers": {}}
	for _, ev := range evs {
		switch ev.Kind {
		case bridge.ChannelCreated:
			sets["channels"][ev.Channel.ID+" "+ev.Channel.Name] = true
		case bridge.Dial:
			if isFinal(ev.DialStatus) {
				sets["dials"][fmt.Sprintf("%s->%s %s", ev.Channel.ID, ev.Peer.ID, ev.DialStatus)] = true
			}
		case bridge.BridgeEnter:
			sets["bridges"][fmt.Sprintf("%s in %s conf=%v", ev.Channel.ID, ev.Bridge, ev.Conference)] = true
		case bridge.BlindTransfer:
			sets["transfers"][fmt.Sprintf("blind %s %s %s@%s", ev.Channel.ID, ev.Peer.ID, ev.Exten, ev.Context)] = true
		case bridge.AttendedTransfer:
			sets["transfers"][fmt.Sprintf("attended %s %s %s %s", ev.Channel.ID, ev.Second, ev.Peer.ID, ev.Target)] = true
		}
	}
	out := map[string][]string{}
	for k, s := range sets {
		for v := range s {
			out[k] = append(out[k], v)
		}
		sort.Strings(out[k])
	}
	return out
}

func isFinal(status string) bool {
	return status != "" && status != "RINGING" && status != "PROGRESS" && status != "PROCEEDING"
}

// A recorded session that resynced after connecting (the lab's
// adopt_mid_talk: login, CoreShowChannels, BridgeList, then the call's
// tail) gives the engine what the live client gives it: one Snapshot
// first, its channels' ages read against the newest Timestamp before the
// list (the login's SuccessfulAuth, by the PBX's clock), then the events.
func TestReadRecordingResync(t *testing.T) {
	f, err := os.Open("../../testdata/lab/adopt_mid_talk/ami.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []bridge.Event
	if _, err := ami.ReadRecording(f, func(ev bridge.Event) { evs = append(evs, ev) }); err != nil {
		t.Fatal(err)
	}
	if len(evs) < 2 || evs[0].Kind != bridge.Snapshot {
		t.Fatalf("first event %+v, want the snapshot", evs[0])
	}
	s := evs[0]
	listed := time.Unix(1796122792, 238072000).UTC()
	if !s.Listed.Equal(listed) || len(s.Channels) != 2 {
		t.Fatalf("listed %v with %d channels, want %v and 2", s.Listed, len(s.Channels), listed)
	}
	for _, ch := range s.Channels {
		// Duration 00:00:05, BridgeId set, Application AppDial / Dial.
		if !ch.Created.Equal(listed.Add(-5*time.Second)) || ch.Bridge != "d9f74b0f-634d-4106-8fd8-536c4c44692f" || ch.App == "" || ch.LinkedID != "1796122787.2" {
			t.Errorf("%+v", ch)
		}
	}
	for _, ev := range evs[1:] {
		if ev.Kind == bridge.Snapshot || ev.Time.Before(listed) {
			t.Errorf("after the snapshot: %v at %v", ev.Kind, ev.Time)
		}
	}
}

// A recording cut off inside a CoreShowChannels list gives no snapshot
// (an incomplete list would end the calls it lacks) but loses none of
// the events that arrived meanwhile.
func TestReadRecordingCutInResync(t *testing.T) {
	b, err := os.ReadFile("../../testdata/lab/adopt_mid_talk/ami.txt")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	entry := "Event: CoreShowChannel\r\n"
	i := strings.Index(s, entry)
	j := strings.Index(s[i+1:], entry) + i + 1 // the second entry
	hangup := "Event: Hangup\r\nPrivilege: call,all\r\nTimestamp: 1796122797.300000\r\nChannel: PJSIP/101-00000003\r\nUniqueid: 1796122787.3\r\nLinkedid: 1796122787.2\r\nCause: 16\r\n\r\n"
	cut := s[:j] + hangup
	var evs []bridge.Event
	st, err := ami.ReadRecording(strings.NewReader(cut), func(ev bridge.Event) { evs = append(evs, ev) })
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Kind != bridge.ChannelDestroyed || st.Mapped+st.Skipped+st.Malformed != st.Messages {
		t.Fatalf("events %+v, stats %+v: want the hangup alone", evs, st)
	}
}
