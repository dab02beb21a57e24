package subscribe

import (
	"reflect"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

var fixedTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// doc builds a document for the live tests.
func doc(version uint64, st DocState, ds ...Dialog) *Info {
	return &Info{Version: version, State: st, Dialogs: ds}
}

func TestLive(t *testing.T) {
	dave := Participant{Identity: "sip:0401234567@pbx", Display: "Dave"}
	type step struct {
		ext  string
		info *Info
		new  bool // a new subscription for ext before this document
		want []bridge.Transition
		v    verdict
	}
	tr := func(ext string, s bridge.LiveState, dir bridge.Direction, num, name, callID string) bridge.Transition {
		return bridge.Transition{Time: fixedTime, User: ext, State: s, Direction: dir, RemoteNumber: num, RemoteName: name, CallID: callID}
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "asterisk inbound: ring, answer, hang up; identity carried on", steps: []step{
			{ext: "101", info: doc(0, Full, Dialog{ID: "101", State: Terminated})},
			{ext: "101", info: doc(1, Full, Dialog{ID: "101", State: Early, Direction: Recipient, Remote: dave}),
				want: []bridge.Transition{tr("101", bridge.Ringing, bridge.Inbound, "0401234567", "Dave", "")}},
			{ext: "101", info: doc(2, Full, Dialog{ID: "101", State: Confirmed}),
				want: []bridge.Transition{tr("101", bridge.Talking, bridge.Inbound, "0401234567", "Dave", "")}},
			{ext: "101", info: doc(3, Full, Dialog{ID: "101", State: Terminated}),
				want: []bridge.Transition{tr("101", bridge.HungUp, bridge.Inbound, "0401234567", "Dave", "")}},
			// The next call on the same dialog id starts afresh.
			{ext: "101", info: doc(4, Full, Dialog{ID: "101", State: Confirmed}),
				want: []bridge.Transition{tr("101", bridge.Talking, "", "", "", "")}},
		}},
		{name: "repeated state reported once", steps: []step{
			{ext: "101", info: doc(1, Full, Dialog{ID: "101", State: Early, Direction: Recipient}),
				want: []bridge.Transition{tr("101", bridge.Ringing, bridge.Inbound, "", "", "")}},
			{ext: "101", info: doc(2, Full, Dialog{ID: "101", State: Early, Direction: Recipient, Remote: dave})},
			{ext: "101", info: doc(3, Full, Dialog{ID: "101", State: Confirmed}),
				want: []bridge.Transition{tr("101", bridge.Talking, bridge.Inbound, "0401234567", "Dave", "")}},
			{ext: "101", info: doc(4, Full, Dialog{ID: "101", State: Confirmed})},
		}},
		{name: "versions going backwards or repeated are ignored", steps: []step{
			{ext: "101", info: doc(5, Full, Dialog{ID: "101", State: Early}),
				want: []bridge.Transition{tr("101", bridge.Ringing, "", "", "", "")}},
			{ext: "101", info: doc(5, Full, Dialog{ID: "101", State: Confirmed}), v: stale},
			{ext: "101", info: doc(3, Full, Dialog{ID: "101", State: Terminated}), v: stale},
			{ext: "101", info: doc(6, Full, Dialog{ID: "101", State: Terminated}),
				want: []bridge.Transition{tr("101", bridge.HungUp, "", "", "", "")}},
		}},
		{name: "a new subscription may start again from 0", steps: []step{
			{ext: "101", info: doc(9, Full, Dialog{ID: "101", State: Early}),
				want: []bridge.Transition{tr("101", bridge.Ringing, "", "", "", "")}},
			{ext: "101", info: doc(0, Full, Dialog{ID: "101", State: Early}), v: stale},
			// Same state after re-subscribing: nothing repeated.
			{ext: "101", new: true, info: doc(0, Full, Dialog{ID: "101", State: Early})},
			{ext: "101", info: doc(1, Full, Dialog{ID: "101", State: Confirmed}),
				want: []bridge.Transition{tr("101", bridge.Talking, "", "", "", "")}},
		}},
		{name: "versions are per extension", steps: []step{
			{ext: "101", info: doc(7, Full, Dialog{ID: "101", State: Early}),
				want: []bridge.Transition{tr("101", bridge.Ringing, "", "", "", "")}},
			{ext: "102", info: doc(1, Full, Dialog{ID: "102", State: Confirmed}),
				want: []bridge.Transition{tr("102", bridge.Talking, "", "", "", "")}},
		}},
		{name: "trying and proceeding ring only the recipient", steps: []step{
			{ext: "102", info: doc(1, Partial,
				Dialog{ID: "out", CallID: "c1", State: Trying, Direction: Initiator},
				Dialog{ID: "in", CallID: "c2", State: Proceeding, Direction: Recipient, Remote: dave},
				Dialog{ID: "unk", CallID: "c3", State: Trying}),
				want: []bridge.Transition{tr("102", bridge.Ringing, bridge.Inbound, "0401234567", "Dave", "c2")}},
			{ext: "102", info: doc(2, Partial, Dialog{ID: "out", CallID: "c1", State: Early, Direction: Initiator}),
				want: []bridge.Transition{tr("102", bridge.Ringing, bridge.Outbound, "", "", "c1")}},
			{ext: "102", info: doc(3, Partial, Dialog{ID: "in", State: Early})},
			{ext: "102", info: doc(4, Partial, Dialog{ID: "out", State: Confirmed}, Dialog{ID: "in", State: Terminated, Event: "cancelled"}),
				want: []bridge.Transition{
					tr("102", bridge.Talking, bridge.Outbound, "", "", "c1"),
					tr("102", bridge.HungUp, bridge.Inbound, "0401234567", "Dave", "c2"),
				}},
		}},
		{name: "partial leaves unlisted dialogs, full ends them", steps: []step{
			{ext: "103", info: doc(1, Partial,
				Dialog{ID: "b", State: Confirmed, CallID: "cb"},
				Dialog{ID: "a", State: Early, CallID: "ca"}),
				want: []bridge.Transition{tr("103", bridge.Talking, "", "", "", "cb"), tr("103", bridge.Ringing, "", "", "", "ca")}},
			{ext: "103", info: doc(2, Partial, Dialog{ID: "c", State: Early, CallID: "cc"}),
				want: []bridge.Transition{tr("103", bridge.Ringing, "", "", "", "cc")}},
			// A full document listing only c: a and b ended, in id order.
			{ext: "103", info: doc(3, Full, Dialog{ID: "c", State: Early}),
				want: []bridge.Transition{tr("103", bridge.HungUp, "", "", "", "ca"), tr("103", bridge.HungUp, "", "", "", "cb")}},
			{ext: "103", info: doc(4, Full),
				want: []bridge.Transition{tr("103", bridge.HungUp, "", "", "", "cc")}},
			{ext: "103", info: doc(5, Full)},
		}},
		{name: "a full document of one extension leaves the others alone", steps: []step{
			{ext: "101", info: doc(1, Full, Dialog{ID: "101", State: Confirmed}),
				want: []bridge.Transition{tr("101", bridge.Talking, "", "", "", "")}},
			{ext: "102", info: doc(1, Full)},
			{ext: "101", info: doc(2, Full, Dialog{ID: "101", State: Confirmed})},
		}},
		{name: "terminated unknown dialog says nothing", steps: []step{
			{ext: "101", info: doc(1, Partial, Dialog{ID: "x", State: Terminated, Remote: dave})},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLive()
			for i, s := range tt.steps {
				if s.new {
					l.newSubscription(s.ext)
				}
				got, v := l.apply(s.ext, s.info, fixedTime)
				if v != s.v {
					t.Errorf("step %d: verdict %v, want %v", i, v, s.v)
				}
				if !reflect.DeepEqual(got, s.want) {
					t.Errorf("step %d:\n got %+v\nwant %+v", i, got, s.want)
				}
			}
		})
	}
}

func TestLiveBoundsMemory(t *testing.T) {
	l := newLive()
	for i := 0; i < maxLiveDialogs+10; i++ {
		l.apply("101", doc(uint64(i), Partial, Dialog{ID: string(rune('a'+i%26)) + time.Duration(i).String(), State: Early}), fixedTime)
	}
	if n := len(l.dialogs); n != maxLiveDialogs {
		t.Fatalf("%d dialogs remembered, want the cap %d", n, maxLiveDialogs)
	}
}
