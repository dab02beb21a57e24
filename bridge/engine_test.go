package bridge

import (
	"go/build"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// script builds event sequences for table tests: times are offsets in
// seconds from a fixed start, channels are named like Asterisk's.
type script struct {
	t0  time.Time
	evs []Event
}

func newScript() *script {
	return &script{t0: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
}

func (s *script) at(sec float64) time.Time {
	return s.t0.Add(time.Duration(sec * float64(time.Second)))
}

func (s *script) add(sec float64, ev Event) *script {
	ev.Time = s.at(sec)
	s.evs = append(s.evs, ev)
	return s
}

// create adds a channel; state "Ring" for a channel calling in, "Down" for
// one the PBX dials.
func (s *script) create(sec float64, id, name, state, callerNum, exten string) *script {
	return s.add(sec, Event{Kind: ChannelCreated, Channel: Channel{ID: id, Name: name,
		State: ParseChannelState(state), CallerNumber: callerNum, CallerName: callerNum, Exten: exten}})
}

func (s *script) dial(sec float64, caller, peer, status string) *script {
	return s.add(sec, Event{Kind: Dial, Channel: Channel{ID: caller}, Peer: Channel{ID: peer}, DialStatus: status})
}

func (s *script) state(sec float64, id, state string) *script {
	return s.add(sec, Event{Kind: ChannelUpdated, Channel: Channel{ID: id, State: ParseChannelState(state)}})
}

func (s *script) enter(sec float64, id, br string) *script {
	return s.add(sec, Event{Kind: BridgeEnter, Channel: Channel{ID: id}, Bridge: br})
}

func (s *script) leave(sec float64, id, br string) *script {
	return s.add(sec, Event{Kind: BridgeLeave, Channel: Channel{ID: id}, Bridge: br})
}

func (s *script) hangup(sec float64, id string, cause int) *script {
	s.add(sec, Event{Kind: HangupRequest, Channel: Channel{ID: id}, Cause: cause})
	return s.add(sec, Event{Kind: ChannelDestroyed, Channel: Channel{ID: id}, Cause: cause})
}

func (s *script) run(t *testing.T, cfg Config) (acts []Activity, live []Transition) {
	t.Helper()
	if cfg.Trunks == nil {
		cfg.Trunks = []string{"pstn"}
	}
	e := New(cfg)
	for _, ev := range s.evs {
		for _, tr := range e.Apply(ev) {
			if tr.Activity != nil {
				acts = append(acts, *tr.Activity)
			} else {
				live = append(live, tr)
			}
		}
	}
	if st := e.Stats(); st.Calls != 0 || st.Channels != 0 {
		t.Errorf("engine still holds %+v at the end of the script", st)
	}
	return acts, live
}

// brief is the part of an activity table tests compare.
type brief struct {
	User, Dir, State, Reason, Remote, TransferredBy string
	Internal                                        bool
}

func briefs(acts []Activity) []brief {
	out := make([]brief, len(acts))
	for i, a := range acts {
		out[i] = brief{User: a.User, Dir: string(a.Direction), State: string(a.State), Reason: string(a.Reason),
			Remote: a.RemoteNumber, TransferredBy: a.TransferredBy, Internal: a.Internal}
	}
	return out
}

func TestSequences(t *testing.T) {
	tests := []struct {
		name string
		s    *script
		want []brief
		// check looks at times and other details.
		check func(t *testing.T, s *script, acts []Activity)
	}{{
		// A queue rings 101, times out, retries 102 (busy), then 101 again,
		// who answers: 101 has one activity, started at the first ring.
		name: "same user offered twice",
		s: newScript().
			create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111666").
			create(0.1, "a1", "PJSIP/101-1", "Down", "101", "s").dial(0.1, "p", "a1", "").
			state(0.2, "a1", "Ringing").dial(5.1, "p", "a1", "NOANSWER").hangup(5.1, "a1", 16).
			create(6, "b1", "PJSIP/102-2", "Down", "102", "s").dial(6, "p", "b1", "").
			dial(6.2, "p", "b1", "BUSY").hangup(6.2, "b1", 17).
			create(7, "a2", "PJSIP/101-3", "Down", "101", "s").dial(7, "p", "a2", "").
			state(7.1, "a2", "Ringing").dial(9, "p", "a2", "ANSWER").
			enter(9, "a2", "B").enter(9, "p", "B").
			hangup(20, "p", 16).hangup(20, "a2", 16),
		want: []brief{
			{User: "101", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"},
			{User: "102", Dir: "inbound", State: "missed", Reason: "answered_elsewhere", Remote: "+358401234567"},
		},
		check: func(t *testing.T, s *script, acts []Activity) {
			if !acts[0].StartedAt.Equal(s.at(0.2)) || !acts[0].AnsweredAt.Equal(s.at(9)) || acts[0].TalkSeconds != 11 {
				t.Errorf("101: started %v answered %v talk %v", acts[0].StartedAt, acts[0].AnsweredAt, acts[0].TalkSeconds)
			}
		},
	}, {
		// The endpoint is unreachable: the channel never rings, Dial gives
		// CHANUNAVAIL. Offered at the Dial, so the activity starts there.
		name: "a call that never rings",
		s: newScript().
			create(0, "p", "PJSIP/pstn-1", "Ring", "0501234567", "+35850111222").
			create(0.5, "a", "PJSIP/101-1", "Down", "101", "s").dial(0.5, "p", "a", "").
			dial(0.6, "p", "a", "CHANUNAVAIL").hangup(0.6, "a", 20).hangup(1, "p", 16),
		want: []brief{{User: "101", Dir: "inbound", State: "missed", Reason: "failed", Remote: "0501234567"}},
		check: func(t *testing.T, s *script, acts []Activity) {
			if !acts[0].StartedAt.Equal(s.at(0.5)) || acts[0].RingSeconds != 0.1 {
				t.Errorf("started %v ring %v", acts[0].StartedAt, acts[0].RingSeconds)
			}
		},
	}, {
		// An outbound call to a trunk that fails at once: no peer channel
		// is ever created, only DIALSTATUS tells.
		name: "outbound with no peer channel",
		s: newScript().
			create(0, "a", "PJSIP/101-1", "Ring", "101", "0401234567").
			add(0.1, Event{Kind: VarSet, Channel: Channel{ID: "a"}, Var: "DIALSTATUS", Value: "CONGESTION"}).
			hangup(0.2, "a", 34),
		want: []brief{{User: "101", Dir: "outbound", State: "unaccepted", Reason: "failed", Remote: "0401234567"}},
	}, {
		// Dialling voicemail or a feature code is not a call to anybody.
		name: "feature code is no activity",
		s: newScript().
			create(0, "a", "PJSIP/101-1", "Ring", "101", "*97").state(0.1, "a", "Up").hangup(10, "a", 16),
		want: []brief{},
	}, {
		// Sources can report the hang-up before the answer (SIP capture
		// order, AMI event order): the activity still connects and times
		// stay ordered.
		name: "hang-up request before the answer arrives",
		s: newScript().
			create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111222").
			create(0.1, "a", "PJSIP/101-1", "Down", "101", "s").dial(0.1, "p", "a", "").
			state(0.2, "a", "Ringing").
			add(3, Event{Kind: HangupRequest, Channel: Channel{ID: "p"}, Cause: 16}).
			add(2.9, Event{Kind: HangupRequest, Channel: Channel{ID: "a"}, Cause: 16}).
			dial(3, "p", "a", "ANSWER").enter(3, "a", "B").enter(3, "p", "B").
			hangup(3.1, "p", 16).hangup(3.1, "a", 16),
		want: []brief{{User: "101", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"}},
		check: func(t *testing.T, s *script, acts []Activity) {
			a := acts[0]
			if a.EndedAt.Before(a.AnsweredAt) || a.TalkSeconds != 0 {
				t.Errorf("answered %v ended %v talk %v", a.AnsweredAt, a.EndedAt, a.TalkSeconds)
			}
		},
	}, {
		// A ring group through Local channels without /n: once 101
		// answers, Asterisk optimises the Local pair away and bridges the
		// caller with 101 directly. Nothing about the activity changes.
		name: "local pair optimised away",
		s: newScript().
			create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111222").
			create(0.1, "l1", "Local/101@from-internal-00000001;1", "Down", "", "101").
			create(0.1, "l2", "Local/101@from-internal-00000001;2", "Ring", "", "101").
			dial(0.1, "p", "l1", "").
			create(0.2, "a", "PJSIP/101-1", "Down", "101", "s").dial(0.2, "l2", "a", "").
			state(0.3, "a", "Ringing").dial(0.3, "l2", "a", "RINGING").dial(0.3, "p", "l1", "RINGING").
			dial(4, "l2", "a", "ANSWER").dial(4, "p", "l1", "ANSWER").
			enter(4, "a", "B2").enter(4, "l2", "B2").enter(4, "l1", "B1").enter(4, "p", "B1").
			// optimisation: 101 swaps into the caller's bridge, the pair goes
			leave(4.5, "a", "B2").enter(4.5, "a", "B1").leave(4.5, "l1", "B1").
			hangup(4.5, "l1", 16).hangup(4.5, "l2", 16).
			hangup(10, "p", 16).hangup(10, "a", 16),
		want: []brief{{User: "101", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"}},
		check: func(t *testing.T, s *script, acts []Activity) {
			if acts[0].TalkSeconds != 6 {
				t.Errorf("talk %v, want 6", acts[0].TalkSeconds)
			}
		},
	}, {
		// Events the engine has no use for, or for channels it never knew,
		// change nothing.
		name: "unknown event types and channels",
		s: newScript().
			add(0, Event{Kind: Kind(200)}).
			add(0, Event{Kind: KindUnknown}).
			add(0, Event{Kind: ChannelDestroyed, Channel: Channel{ID: "nobody"}}).
			add(0, Event{Kind: BridgeLeave, Channel: Channel{ID: "nobody"}}).
			add(0, Event{Kind: Dial}).
			add(0, Event{Kind: AttendedTransfer, Channel: Channel{ID: "nobody"}}).
			add(0, Event{Kind: VarSet, Channel: Channel{ID: "nobody"}, Var: PrivacyVar, Value: "private"}),
		want: []brief{},
	}, {
		// Blind transfer: 101 answers the caller, transfers to 102. 101
		// keeps a connected activity ended at the transfer; 102's remote is
		// the caller, transferred by 101.
		name: "blind transfer",
		s: newScript().
			create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111222").
			create(0.1, "a", "PJSIP/101-1", "Down", "101", "s").dial(0.1, "p", "a", "").
			state(0.2, "a", "Ringing").dial(2, "p", "a", "ANSWER").enter(2, "a", "B").enter(2, "p", "B").
			add(5, Event{Kind: BlindTransfer, Channel: Channel{ID: "a"}, Peer: Channel{ID: "p"}, Exten: "102", Context: "from-internal"}).
			leave(5, "p", "B").leave(5, "a", "B").hangup(5.1, "a", 16).
			create(5.2, "b", "PJSIP/102-2", "Down", "102", "s").dial(5.2, "p", "b", "").
			state(5.3, "b", "Ringing").dial(8, "p", "b", "ANSWER").enter(8, "b", "B3").enter(8, "p", "B3").
			hangup(15, "p", 16).hangup(15, "b", 16),
		want: []brief{
			{User: "101", Dir: "inbound", State: "connected", Reason: "transferred", Remote: "+358401234567"},
			{User: "102", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567", TransferredBy: "101"},
		},
		check: func(t *testing.T, s *script, acts []Activity) {
			if !acts[0].EndedAt.Equal(s.at(5)) || acts[0].TalkSeconds != 3 {
				t.Errorf("101 ended %v talk %v", acts[0].EndedAt, acts[0].TalkSeconds)
			}
		},
	}, {
		// 101 transfers to 102, who does not answer: 102 missed a call
		// (101 answering earlier is not "answered elsewhere").
		name: "blind transfer not answered",
		s: newScript().
			create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111222").
			create(0.1, "a", "PJSIP/101-1", "Down", "101", "s").dial(0.1, "p", "a", "").
			dial(2, "p", "a", "ANSWER").enter(2, "a", "B").enter(2, "p", "B").
			add(5, Event{Kind: BlindTransfer, Channel: Channel{ID: "a"}, Peer: Channel{ID: "p"}, Exten: "102"}).
			leave(5, "p", "B").hangup(5.1, "a", 16).
			create(5.2, "b", "PJSIP/102-2", "Down", "102", "s").dial(5.2, "p", "b", "").
			state(5.3, "b", "Ringing").dial(25, "p", "b", "NOANSWER").hangup(25, "b", 19).hangup(25, "p", 16),
		want: []brief{
			{User: "101", Dir: "inbound", State: "connected", Reason: "transferred", Remote: "+358401234567"},
			{User: "102", Dir: "inbound", State: "missed", Reason: "noanswer", Remote: "+358401234567", TransferredBy: "101"},
		},
	}, {
		// The PBX reports the dial to the transfer target before the
		// blind transfer itself: 102 is still the one transferred to.
		name: "blind transfer reported after the new dial",
		s: newScript().
			create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111222").
			create(0.1, "a", "PJSIP/101-1", "Down", "101", "s").dial(0.1, "p", "a", "").
			dial(2, "p", "a", "ANSWER").enter(2, "a", "B").enter(2, "p", "B").
			leave(5, "p", "B").
			create(5, "b", "PJSIP/102-2", "Down", "102", "s").dial(5, "p", "b", "").
			add(5.01, Event{Kind: BlindTransfer, Channel: Channel{ID: "a"}, Peer: Channel{ID: "p"}, Exten: "102"}).
			hangup(5.1, "a", 16).
			state(5.2, "b", "Ringing").dial(8, "p", "b", "ANSWER").enter(8, "b", "B3").enter(8, "p", "B3").
			hangup(15, "p", 16).hangup(15, "b", 16),
		want: []brief{
			{User: "101", Dir: "inbound", State: "connected", Reason: "transferred", Remote: "+358401234567"},
			{User: "102", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567", TransferredBy: "101"},
		},
	}, {
		// 101 parks the caller (a blind transfer to the parking lot), 102
		// dials the slot and gets the caller: 102 answered that call, it
		// did not phone "701".
		name: "parked call retrieved",
		s: newScript().
			create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111222").
			create(0.1, "a", "PJSIP/101-1", "Down", "101", "s").dial(0.1, "p", "a", "").
			dial(2, "p", "a", "ANSWER").enter(2, "a", "B").enter(2, "p", "B").
			add(5, Event{Kind: BlindTransfer, Channel: Channel{ID: "a"}, Peer: Channel{ID: "p"}, Exten: "700"}).
			leave(5, "p", "B").hangup(5.1, "a", 16).
			enter(5.2, "p", "parking-lot").
			create(20, "b", "PJSIP/102-2", "Ring", "102", "701").state(20.1, "b", "Up").
			leave(20.2, "p", "parking-lot").enter(20.2, "b", "B2").enter(20.2, "p", "B2").
			hangup(30, "p", 16).hangup(30, "b", 16),
		want: []brief{
			{User: "101", Dir: "inbound", State: "connected", Reason: "transferred", Remote: "+358401234567"},
			{User: "102", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567", TransferredBy: "101"},
		},
		check: func(t *testing.T, s *script, acts []Activity) {
			if b := acts[1]; !b.StartedAt.Equal(s.at(20)) || b.TalkSeconds != 9.8 {
				t.Errorf("102 started %v talk %v", b.StartedAt, b.TalkSeconds)
			}
		},
	}, {
		// 103 picks up the call ringing at 102 (directed pickup, bridged):
		// 103 answered it; 102 lost it to a colleague.
		name: "call pickup",
		s: newScript().
			create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111222").
			create(0.1, "b", "PJSIP/102-1", "Down", "102", "s").dial(0.1, "p", "b", "").state(0.2, "b", "Ringing").
			create(3, "c", "PJSIP/103-2", "Ring", "103", "*8102").state(3.1, "c", "Up").
			dial(3.2, "p", "b", "CANCEL").hangup(3.2, "b", 26).
			enter(3.3, "c", "B").enter(3.3, "p", "B").
			hangup(10, "p", 16).hangup(10, "c", 16),
		want: []brief{
			{User: "102", Dir: "inbound", State: "missed", Reason: "answered_elsewhere", Remote: "+358401234567"},
			{User: "103", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"},
		},
	}, {
		// An internal ring group: 101 dials 600, 102 and 103 ring, 103
		// answers. 101 talked to 103; 102 lost the race.
		name: "internal ring group",
		s: newScript().
			create(0, "a", "PJSIP/101-1", "Ring", "101", "600").
			create(0.1, "b", "PJSIP/102-2", "Down", "102", "s").dial(0.1, "a", "b", "").
			create(0.1, "c", "PJSIP/103-3", "Down", "103", "s").dial(0.1, "a", "c", "").
			state(0.2, "b", "Ringing").state(0.2, "c", "Ringing").
			dial(3, "a", "c", "ANSWER").dial(3, "a", "b", "CANCEL").hangup(3, "b", 26).
			enter(3, "c", "B").enter(3, "a", "B").hangup(9, "a", 16).hangup(9, "c", 16),
		want: []brief{
			{User: "101", Dir: "outbound", State: "connected", Reason: "answered", Remote: "103", Internal: true},
			{User: "102", Dir: "inbound", State: "missed", Reason: "answered_elsewhere", Remote: "101", Internal: true},
			{User: "103", Dir: "inbound", State: "connected", Reason: "answered", Remote: "101", Internal: true},
		},
	}, {
		// A call that reaches an IVR and is answered by it alone is not
		// connected for anybody; no user was offered it: no activity.
		name: "ivr answers alone",
		s: newScript().
			create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111000").
			state(0.1, "p", "Up").hangup(30, "p", 16),
		want: []brief{},
	}, {
		// The dialplan marks the call private on the caller's channel.
		name: "privacy mark",
		s: newScript().
			create(0, "a", "PJSIP/101-1", "Ring", "101", "0401234567").
			add(0, Event{Kind: VarSet, Channel: Channel{ID: "a"}, Var: PrivacyVar, Value: "private"}).
			create(0.1, "p", "PJSIP/pstn-1", "Down", "", "s").dial(0.1, "a", "p", "").
			dial(2, "a", "p", "BUSY").hangup(2, "p", 17).hangup(2.1, "a", 16),
		want: []brief{{User: "101", Dir: "outbound", State: "unaccepted", Reason: "busy", Remote: "0401234567"}},
		check: func(t *testing.T, s *script, acts []Activity) {
			if acts[0].Privacy != PrivacyPrivate {
				t.Errorf("privacy %q", acts[0].Privacy)
			}
		},
	}, {
		// A private call dialled with a code (*99<number>): the dialplan
		// marks it for inheritance (__CALLBRIDGE_PRIVACY); the remote is
		// the number, not the code.
		name: "private call by prefix",
		s: newScript().
			create(0, "a", "PJSIP/101-1", "Ring", "101", "*990401234567").
			add(0, Event{Kind: VarSet, Channel: Channel{ID: "a"}, Var: "__" + PrivacyVar, Value: "private"}).
			create(0.1, "p", "PJSIP/pstn-1", "Down", "", "s").
			add(0.1, Event{Kind: Dial, Channel: Channel{ID: "a"}, Peer: Channel{ID: "p"}, DialString: "0401234567@pstn"}).
			dial(2, "a", "p", "ANSWER").enter(2, "p", "B").enter(2, "a", "B").hangup(6, "a", 16).hangup(6, "p", 16),
		want: []brief{{User: "101", Dir: "outbound", State: "connected", Reason: "answered", Remote: "0401234567"}},
		check: func(t *testing.T, s *script, acts []Activity) {
			if acts[0].Privacy != PrivacyPrivate {
				t.Errorf("privacy %q", acts[0].Privacy)
			}
		},
	}, {
		// The source lost its connection mid-call; on reconnect the
		// snapshot no longer lists the call: it is closed at the snapshot
		// time (the last moment it was known alive), once.
		name: "call ended during a gap",
		s: newScript().
			create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111222").
			create(0.1, "a", "PJSIP/101-1", "Down", "101", "s").dial(0.1, "p", "a", "").
			state(0.2, "a", "Ringing").dial(2, "p", "a", "ANSWER").enter(2, "a", "B").enter(2, "p", "B").
			add(4, Event{Kind: Snapshot}).
			hangup(9, "p", 16),
		want: []brief{{User: "101", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"}},
		check: func(t *testing.T, s *script, acts []Activity) {
			if acts[0].TalkSeconds != 2 {
				t.Errorf("talk %v, want 2 (closed at the snapshot)", acts[0].TalkSeconds)
			}
		},
	}, {
		// After a restart the source adopts a call in progress from the
		// channel list: it is reported once, when it ends.
		name: "call adopted from a snapshot",
		s: newScript().
			add(60, Event{Kind: Snapshot, Channels: []Channel{
				{ID: "a", Name: "PJSIP/101-1", State: StateUp, App: "AppDial", Bridge: "B", Created: newScript().at(50)},
				{ID: "p", Name: "PJSIP/pstn-1", State: StateUp, CallerNumber: "+358401234567", Exten: "+35850111222", Bridge: "B", Created: newScript().at(49)},
			}}).
			hangup(70, "p", 16).hangup(70, "a", 16),
		want: []brief{{User: "101", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acts, _ := tc.s.run(t, Config{Source: "test"})
			got := briefs(acts)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d activities %+v, want %d %+v", len(got), got, len(tc.want), tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("activity %d:\n got %+v\nwant %+v", i, got[i], tc.want[i])
				}
			}
			if tc.check != nil && len(acts) > 0 {
				tc.check(t, tc.s, acts)
			}
		})
	}
}

// A ring group with Bob's own mobile in it, answered there: the mobile leg
// is Bob's, connected; Alice lost the race. Alice calling Bob's mobile
// herself stays an external call.
func TestMobileForward(t *testing.T) {
	users := []User{{Extension: "101", Name: "Alice"}, {Extension: "102", Name: "Bob", Mobiles: []string{"+358 40 111 1102"}}}
	s := newScript().
		create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111333").
		create(0.1, "a", "PJSIP/101-1", "Down", "101", "s").dial(0.1, "p", "a", "").
		create(0.1, "m", "PJSIP/pstn-2", "Down", "", "s")
	s.add(0.1, Event{Kind: Dial, Channel: Channel{ID: "p"}, Peer: Channel{ID: "m"}, DialString: "0401111102@pstn"})
	s.state(0.2, "a", "Ringing").dial(0.3, "p", "m", "RINGING").
		dial(5, "p", "m", "ANSWER").dial(5, "p", "a", "CANCEL").hangup(5, "a", 26).
		enter(5, "m", "B").enter(5, "p", "B").hangup(20, "p", 16).hangup(20, "m", 16)
	acts, _ := s.run(t, Config{Users: users})
	got := briefs(acts)
	want := []brief{
		{User: "101", Dir: "inbound", State: "missed", Reason: "answered_elsewhere", Remote: "+358401234567"},
		{User: "102", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v", got)
	}

	s = newScript().
		create(0, "a", "PJSIP/101-1", "Ring", "101", "0401111102").
		create(0.1, "m", "PJSIP/pstn-2", "Down", "", "s")
	s.add(0.1, Event{Kind: Dial, Channel: Channel{ID: "a"}, Peer: Channel{ID: "m"}, DialString: "0401111102@pstn"})
	s.dial(3, "a", "m", "ANSWER").enter(3, "m", "B").enter(3, "a", "B").hangup(9, "a", 16).hangup(9, "m", 16)
	acts, _ = s.run(t, Config{Users: users})
	if got := briefs(acts); len(got) != 1 || got[0] != (brief{User: "101", Dir: "outbound", State: "connected", Reason: "answered", Remote: "0401111102"}) {
		t.Fatalf("Alice calling Bob's mobile: %+v", got)
	}
}

// The same events always give the same activities, ids included.
func TestDeterministic(t *testing.T) {
	s := newScript().
		create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111222").
		create(0.1, "a", "PJSIP/101-1", "Down", "101", "s").dial(0.1, "p", "a", "").
		create(0.1, "b", "PJSIP/102-1", "Down", "102", "s").dial(0.1, "p", "b", "").
		hangup(3, "p", 16).hangup(3, "a", 16).hangup(3, "b", 16)
	first, _ := s.run(t, Config{})
	for i := 0; i < 20; i++ {
		again, _ := s.run(t, Config{})
		if len(again) != len(first) {
			t.Fatal("different count")
		}
		for j := range again {
			if again[j] != first[j] {
				t.Fatalf("run %d differs: %+v vs %+v", i, again[j], first[j])
			}
		}
	}
}

// With a user directory, only listed users (by extension or endpoint) get
// activities, with their names.
func TestDirectory(t *testing.T) {
	s := newScript().
		create(0, "a", "PJSIP/alice-phone-1", "Ring", "101", "555").
		create(0.1, "b", "PJSIP/555-2", "Down", "555", "s").dial(0.1, "a", "b", "").
		dial(2, "a", "b", "ANSWER").enter(2, "a", "B").enter(2, "b", "B").hangup(5, "a", 16).hangup(5, "b", 16)
	acts, _ := s.run(t, Config{Users: []User{{Extension: "101", Name: "Alice", Endpoints: []string{"alice-phone"}}}})
	if len(acts) != 1 || acts[0].User != "101" || acts[0].UserName != "Alice" || acts[0].Internal || acts[0].RemoteNumber != "555" {
		t.Fatalf("%+v", acts)
	}
}

// Live transitions follow a user's leg: ringing, connected, ended.
func TestLiveTransitions(t *testing.T) {
	s := newScript().
		create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111222").
		create(0.1, "a", "PJSIP/101-1", "Down", "101", "s").dial(0.1, "p", "a", "").
		state(0.2, "a", "Ringing").dial(2, "p", "a", "ANSWER").enter(2, "a", "B").enter(2, "p", "B").
		hangup(5, "p", 16).hangup(5.1, "a", 16)
	_, live := s.run(t, Config{})
	var states []string
	for _, tr := range live {
		if tr.User != "101" || tr.RemoteNumber != "+358401234567" || tr.CallID != "p" || tr.DDI != "+35850111222" || tr.Internal {
			t.Errorf("transition %+v", tr)
		}
		states = append(states, string(tr.State))
	}
	if strings.Join(states, ",") != "ringing,connected,ended" {
		t.Fatalf("states %v", states)
	}
}

// An internal call's transitions say so, and carry no DDI.
func TestLiveTransitionsInternal(t *testing.T) {
	s := newScript().
		create(0, "a", "PJSIP/101-1", "Ring", "101", "102").
		create(0.1, "b", "PJSIP/102-1", "Down", "102", "s").dial(0.1, "a", "b", "").
		state(0.2, "b", "Ringing").dial(2, "a", "b", "ANSWER").enter(2, "a", "B").enter(2, "b", "B").
		hangup(5, "a", 16).hangup(5.1, "b", 16)
	_, live := s.run(t, Config{})
	if len(live) == 0 {
		t.Fatal("no transitions")
	}
	for _, tr := range live {
		if !tr.Internal || tr.DDI != "" {
			t.Errorf("transition %+v", tr)
		}
	}
}

// The engine must stay free of I/O, loggers and adapters: everything it
// depends on is in the standard library, and it imports none of the I/O or
// logging packages itself.
func TestEngineImportsStdlibOnly(t *testing.T) {
	direct, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(direct)) {
		switch p {
		case "net", "net/http", "os", "os/exec", "io/fs", "log", "log/slog", "math/rand", "math/rand/v2":
			t.Errorf("bridge imports %s: the engine does no I/O, logging or randomness", p)
		}
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/callbridge/callbridge/bridge" {
			continue
		}
		pkg, err := build.Default.Import(p, ".", build.FindOnly)
		if err != nil || !pkg.Goroot {
			t.Errorf("bridge depends on %s, which is not in the standard library", p)
		}
	}
}

// OpenCalls names the calls in progress by the id their activities take;
// a call that merged into an earlier one is listed under the earlier id.
func TestOpenCalls(t *testing.T) {
	e := New(Config{Trunks: []string{"pstn"}})
	s := newScript().
		create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111222").
		create(0.1, "a", "PJSIP/101-1", "Down", "101", "s").dial(0.1, "p", "a", "").
		create(1, "q", "PJSIP/102-1", "Ring", "102", "103")
	for _, ev := range s.evs {
		e.Apply(ev)
	}
	if got := e.OpenCalls(); strings.Join(got, ",") != "p,q" {
		t.Fatalf("open calls %v, want p,q", got)
	}
	var ids []string
	for _, ev := range newScript().hangup(5, "p", 16).hangup(5, "a", 16).evs {
		for _, tr := range e.Apply(ev) {
			if tr.Activity != nil {
				ids = append(ids, tr.Activity.CallID)
			}
		}
	}
	if len(ids) == 0 || ids[0] != "p" {
		t.Fatalf("finished call ids %v", ids)
	}
	if got := e.OpenCalls(); strings.Join(got, ",") != "q" {
		t.Fatalf("open calls %v, want q", got)
	}
}
