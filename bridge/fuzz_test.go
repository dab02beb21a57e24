package bridge

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzEngine drives the engine with arbitrary event sequences over a small
// set of channels, bridges and statuses, so that odd orders (hang-ups before
// dials, transfers of unknown parties, bridges re-entered, snapshots mid-
// call) are explored. The engine must not panic, must produce sane
// activities, and must hold nothing after a flush.
func FuzzEngine(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 2, 1, 3, 1, 4, 1, 4, 2, 9, 1, 9, 2})
	f.Add([]byte{0, 0, 0, 3, 2, 3, 5, 3, 4, 3, 4, 0, 6, 3, 9, 0, 9, 3})
	f.Add([]byte{0, 1, 0, 5, 0, 6, 2, 5, 2, 6, 3, 6, 4, 6, 4, 5, 4, 1, 7, 1, 9, 1, 9, 5, 9, 6, 10, 0})
	// Linked channels, Local pairs among them.
	f.Add([]byte{0, 128, 0, 132, 0, 140, 0, 133, 2, 140, 3, 132, 3, 133, 9, 128, 9, 132, 9, 140, 9, 133})
	f.Fuzz(fuzzOne)
}

var (
	fuzzNames = []string{"PJSIP/pstn-1", "PJSIP/101-1", "PJSIP/102-1", "PJSIP/103-1",
		"Local/101@q-1;1", "Local/101@q-1;2", "PJSIP/101-2", "CBAnn/800-1;1"}
	fuzzStatuses = []string{"", "RINGING", "ANSWER", "BUSY", "NOANSWER", "CANCEL", "CHANUNAVAIL", "weird"}
)

// fuzzOne plays in as an event sequence: byte pairs of operation and
// argument.

func fuzzOne(t *testing.T, in []byte) {
	e := New(Config{Source: "fuzz", Trunks: []string{"pstn"}})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := t0
	for i := 0; i+1 < len(in); i += 2 {
		op, arg := in[i], int(in[i+1])
		id := string(rune('a' + arg%8))
		other := string(rune('a' + (arg/8)%8))
		ch := Channel{ID: id, Name: fuzzNames[arg%8], State: ChannelState(arg % 6), CallerNumber: "0401234567", Exten: "101"}
		if arg >= 128 { // a source that links channels (AMI's linkedid)
			ch.LinkedID = "L" + string(rune('a'+(arg/4)%4))
		}
		// time mostly moves on, sometimes steps back a little
		at = at.Add(time.Duration(int(op&0xF0)-32) * 10 * time.Millisecond)
		ev := Event{Time: at, Channel: ch}
		switch op % 14 {
		case 0:
			ev.Kind = ChannelCreated
		case 1:
			ev.Kind = ChannelUpdated
		case 2:
			ev.Kind, ev.Channel, ev.Peer = Dial, Channel{ID: other}, ch
			ev.DialStatus = fuzzStatuses[arg%len(fuzzStatuses)]
			if arg%5 == 0 {
				ev.Channel = Channel{} // an originate, a consult
			}
		case 3:
			ev.Kind, ev.Bridge = BridgeEnter, "B"+string(rune('0'+arg%2))
		case 4:
			ev.Kind, ev.Bridge = BridgeLeave, "B0"
		case 5:
			ev.Kind, ev.Peer = BlindTransfer, Channel{ID: other}
		case 6:
			ev.Kind, ev.Peer, ev.Second, ev.Target = AttendedTransfer, Channel{ID: other}, "c", "d"
		case 7:
			ev.Kind, ev.Var, ev.Value = VarSet, PrivacyVar, "private"
		case 8:
			ev.Kind, ev.Cause = HangupRequest, arg%30
		case 9:
			ev.Kind, ev.Cause = ChannelDestroyed, arg%30
		case 10:
			ev.Kind = Snapshot
			if arg%2 == 0 {
				apps := []string{"", "Dial", "AppDial", "AppDial2", "ConfBridge"}
				ch.App, ch.Bridge, ch.Bridged = apps[arg%5], "B1", at.Add(-time.Duration(arg)*time.Second)
				ev.Channels = []Channel{ch, {ID: other, Name: fuzzNames[(arg/8)%8], Bridge: "B0", Conference: arg%3 == 0}}
			}
		case 11:
			ev.Kind, ev.Channel, ev.Peer = Dial, Channel{ID: other}, ch
			ev.DialStatus, ev.Forward = "CANCEL", "102"
		case 12:
			ev.Kind, ev.Bridge, ev.Conference = BridgeEnter, "C", true
		default:
			ev.Kind = Kind(op)
		}
		for _, tr := range e.Apply(ev) {
			checkActivity(t, tr.Activity)
		}
	}
	for _, tr := range e.Flush(at.Add(time.Hour)) {
		checkActivity(t, tr.Activity)
	}
	if s := e.Stats(); s.Calls != 0 || s.Channels != 0 || s.Linked != 0 {
		t.Fatalf("engine holds %+v after flush", s)
	}
}

func checkActivity(t *testing.T, a *Activity) {
	if a == nil {
		return
	}
	if a.User == "" || a.ID == "" || a.EndedAt.Before(a.StartedAt) || a.RingSeconds < 0 || a.TalkSeconds < 0 {
		t.Fatalf("bad activity %+v", a)
	}
	if (a.State == Connected) == a.AnsweredAt.IsZero() {
		t.Fatalf("state %s with answered_at %v", a.State, a.AnsweredAt)
	}
	if a.Direction == Inbound && a.State == Unaccepted || a.Direction == Outbound && a.State == Missed {
		t.Fatalf("%s %s", a.Direction, a.State)
	}
}

// The engine's only time is its events': no clock reads in its code.
func TestNoClock(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"time.Now", "time.Since", "time.Until", "time.After(", "time.Tick", "time.Sleep"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s uses %s: the engine reads time only from events", f, bad)
			}
		}
	}
}
