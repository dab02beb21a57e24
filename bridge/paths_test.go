package bridge

import (
	"testing"
	"time"
)

// Table tests for the call paths of docs/activity.md "More call paths".
// Where a recording in testdata/recordings shows the path, the sequence is
// cut down from it (named in the comment); where none does, it is built
// from what Asterisk 22.10.1's source emits for it (file and function named
// in the comment). Each case is a plain list of events, so a lab recording
// of the same path can replace it (see golden_test.go for recordings).

func (s *script) dialTo(sec float64, caller, peer, dialString string) *script {
	return s.add(sec, Event{Kind: Dial, Channel: Channel{ID: caller}, Peer: Channel{ID: peer}, DialString: dialString})
}

// forward is app_dial's do_forward: the Dial to peer ends CANCEL with the
// forward target (ast_channel_publish_dial_forward).
func (s *script) forward(sec float64, caller, peer, target string) *script {
	return s.add(sec, Event{Kind: Dial, Channel: Channel{ID: caller}, Peer: Channel{ID: peer}, DialStatus: "CANCEL", Forward: target})
}

func (s *script) conf(sec float64, id, br string) *script {
	return s.add(sec, Event{Kind: BridgeEnter, Channel: Channel{ID: id}, Bridge: br, Conference: true})
}

func (s *script) dtmf(sec float64, id, digit string) *script {
	return s.add(sec, Event{Kind: DTMF, Channel: Channel{ID: id}, Value: digit})
}

func (s *script) varset(sec float64, id, name, value string) *script {
	return s.add(sec, Event{Kind: VarSet, Channel: Channel{ID: id}, Var: name, Value: value})
}

type pathCase struct {
	name string
	cfg  Config
	s    *script
	want []brief
	// check looks at times, ids and the other fields.
	check func(t *testing.T, s *script, acts []Activity, live []Transition)
}

func runPaths(t *testing.T, tests []pathCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg.Source == "" {
				cfg.Source = "test"
			}
			acts, live := tc.s.run(t, cfg)
			got := briefs(acts)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d activities %+v, want %d %+v", len(got), got, len(tc.want), tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("activity %d:\n got %+v\nwant %+v", i, got[i], tc.want[i])
				}
			}
			if tc.check != nil {
				tc.check(t, tc.s, acts, live)
			}
		})
	}
}

func wantTimes(t *testing.T, s *script, a Activity, started, answered, ended float64) {
	t.Helper()
	if !a.StartedAt.Equal(s.at(started)) {
		t.Errorf("%s: started %v, want +%v s", a.User, a.StartedAt.Sub(s.t0), started)
	}
	if answered < 0 {
		if !a.AnsweredAt.IsZero() {
			t.Errorf("%s: answered %v, want never", a.User, a.AnsweredAt.Sub(s.t0))
		}
	} else if !a.AnsweredAt.Equal(s.at(answered)) {
		t.Errorf("%s: answered %v, want +%v s", a.User, a.AnsweredAt.Sub(s.t0), answered)
	}
	if !a.EndedAt.Equal(s.at(ended)) {
		t.Errorf("%s: ended %v, want +%v s", a.User, a.EndedAt.Sub(s.t0), ended)
	}
}

// outboundFailing is 101 dialling 0401234567 out of the pstn trunk, the far
// end failing with SIP code sip after ringing 2 s. The events are those of
// outbound_rejected_603 (603: trunk leg cause 21, Dial NOANSWER, DIALSTATUS
// CHANUNAVAIL), with the cause chan_pjsip maps each code to
// (res_pjsip.c ast_sip_hangup_sip2cause) and the statuses app_dial gives it
// (app_dial.c: AST_CONTROL_BUSY publishes BUSY; other causes end the Dial
// NOANSWER, handle_cause counting them as nochan: DIALSTATUS CHANUNAVAIL,
// except NO_ANSWER and NORMAL_CLEARING). The user's own leg then ends with
// whatever cause the dialplan's failure routine picks (generic).
func outboundFailing(farCause int, dialStatus, dialVar string, generic int) *script {
	return newScript().
		create(0, "a", "PJSIP/101-1", "Ring", "+35850111222", "0401234567").
		create(0.01, "p", "PJSIP/pstn-2", "Down", "0401234567", "0401234567").
		dialTo(0.01, "a", "p", "0401234567@pstn").
		state(0.02, "p", "Ringing").dial(0.02, "a", "p", "RINGING").
		add(2, Event{Kind: HangupRequest, Channel: Channel{ID: "p"}, Cause: farCause}).
		dial(2, "a", "p", dialStatus).
		varset(2, "a", "DIALSTATUS", dialVar).
		add(2, Event{Kind: ChannelDestroyed, Channel: Channel{ID: "p"}, Cause: farCause}).
		hangup(2.01, "a", generic)
}

func TestFarEndReasons(t *testing.T) {
	var tests []pathCase
	for _, generic := range []int{19, 34} {
		for _, tc := range []struct {
			sip, cause   int
			status, dvar string
			reason       string
		}{
			{sip: 486, cause: 17, status: "BUSY", dvar: "BUSY", reason: "busy"},
			{sip: 603, cause: 21, status: "NOANSWER", dvar: "CHANUNAVAIL", reason: "rejected"},
			{sip: 404, cause: 1, status: "NOANSWER", dvar: "CHANUNAVAIL", reason: "failed"},
			{sip: 484, cause: 28, status: "NOANSWER", dvar: "CHANUNAVAIL", reason: "failed"},
			{sip: 480, cause: 19, status: "NOANSWER", dvar: "NOANSWER", reason: "noanswer"},
			{sip: 408, cause: 18, status: "NOANSWER", dvar: "CHANUNAVAIL", reason: "noanswer"},
		} {
			tests = append(tests, pathCase{
				name: "far end " + itoa(tc.sip) + ", user leg cause " + itoa(generic),
				s:    outboundFailing(tc.cause, tc.status, tc.dvar, generic),
				want: []brief{{User: "101", Dir: "outbound", State: "unaccepted", Reason: tc.reason, Remote: "0401234567"}},
			})
		}
	}
	tests = append(tests,
		pathCase{
			// A far end that never answers: app_dial's timeout ends the
			// Dial NOANSWER and hangs the channel up without a cause
			// (inbound_noanswer_timeout shows the same for a phone).
			name: "far end rings until the dial timeout",
			s:    outboundFailing(0, "NOANSWER", "NOANSWER", 19),
			want: []brief{{User: "101", Dir: "outbound", State: "unaccepted", Reason: "noanswer", Remote: "0401234567"}},
		},
		pathCase{
			// The user hangs up first: CANCEL, whatever the trunk leg ends
			// with after early media (outbound_unanswered: 127).
			name: "user gives up after early media",
			s: newScript().
				create(0, "a", "PJSIP/101-1", "Ring", "+35850111222", "0401234567").
				create(0.01, "p", "PJSIP/pstn-2", "Down", "0401234567", "0401234567").
				dialTo(0.01, "a", "p", "0401234567@pstn").dial(0.5, "a", "p", "PROGRESS").
				add(4, Event{Kind: HangupRequest, Channel: Channel{ID: "a"}, Cause: 127}).
				dial(4, "a", "p", "CANCEL").hangup(4, "p", 127).hangup(4, "a", 127),
			want: []brief{{User: "101", Dir: "outbound", State: "unaccepted", Reason: "cancel", Remote: "0401234567"}},
		},
		pathCase{
			// The PBX cannot reach the endpoint before dialling: no peer
			// channel, DIALSTATUS CHANUNAVAIL (app_dial.c, the request
			// fails), the user's leg gets the routine's cause 20.
			name: "endpoint unreachable before dialling",
			s: newScript().
				create(0, "a", "PJSIP/101-1", "Ring", "101", "103").
				varset(0.01, "a", "DIALSTATUS", "CHANUNAVAIL").hangup(0.02, "a", 20),
			want: []brief{{User: "101", Dir: "outbound", State: "unaccepted", Reason: "failed", Remote: "103", Internal: true}},
		},
		pathCase{
			// Inbound, the caller gives up while the phone rings: cancel,
			// although the user's channel ends 127 (inbound_missed_cancel).
			name: "caller gives up, phone leg 127",
			s: newScript().
				create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111222").
				create(0.01, "a", "PJSIP/101-2", "Down", "101", "s").dial(0.01, "p", "a", "").
				state(0.02, "a", "Ringing").
				add(4, Event{Kind: HangupRequest, Channel: Channel{ID: "p"}, Cause: 127}).
				dial(4, "p", "a", "CANCEL").hangup(4, "a", 127).hangup(4, "p", 127),
			want: []brief{{User: "101", Dir: "inbound", State: "missed", Reason: "cancel", Remote: "+358401234567"}},
		},
		pathCase{
			// Inbound, the phone declines with 603: cause 21, rejected.
			name: "phone declines",
			s: newScript().
				create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111222").
				create(0.01, "a", "PJSIP/101-2", "Down", "101", "s").dial(0.01, "p", "a", "").
				state(0.02, "a", "Ringing").
				add(2, Event{Kind: HangupRequest, Channel: Channel{ID: "a"}, Cause: 21}).
				dial(2, "p", "a", "NOANSWER").hangup(2, "a", 21).hangup(2.1, "p", 20),
			want: []brief{{User: "101", Dir: "inbound", State: "missed", Reason: "rejected", Remote: "+358401234567"}},
		},
	)
	runPaths(t, tests)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// originate is click_to_dial_originate cut down: AMI Originate with
// Channel PJSIP/101, Exten 0401234567. The dial API (main/dial.c) dials
// 101 with no caller channel; once she answers, her channel runs the
// dialplan and dials the trunk.
func originate() *script {
	return newScript().
		add(0, Event{Kind: ChannelCreated, Channel: Channel{ID: "a", Name: "PJSIP/101-1", State: StateDown,
			CallerNumber: "0401234567", CallerName: "CRM: 0401234567", ConnectedNumber: "0401234567", Exten: "s", Context: "from-internal"}}).
		add(0.005, Event{Kind: Dial, Peer: Channel{ID: "a"}, DialString: "101"}).
		state(0.006, "a", "Ringing").dial(0.006, "", "a", "RINGING")
}

func TestOriginate(t *testing.T) {
	runPaths(t, []pathCase{{
		name: "user answers, far end answers",
		s: originate().
			state(2, "a", "Up").dial(2, "", "a", "ANSWER").
			create(2.01, "p", "PJSIP/pstn-2", "Down", "0401234567", "0401234567").
			dialTo(2.01, "a", "p", "0401234567@pstn").state(2.02, "p", "Ringing").dial(2.02, "a", "p", "RINGING").
			state(4, "p", "Up").dial(4, "a", "p", "ANSWER").enter(4, "p", "B").enter(4, "a", "B").
			hangup(8, "p", 16).hangup(8, "a", 16),
		want: []brief{{User: "101", Dir: "outbound", State: "connected", Reason: "answered", Remote: "0401234567"}},
		check: func(t *testing.T, s *script, acts []Activity, live []Transition) {
			wantTimes(t, s, acts[0], 0, 4, 8)
			for _, tr := range live {
				if tr.Direction != Outbound {
					t.Errorf("live %+v: the user's own phone ringing is not an inbound call", tr)
				}
			}
		},
	}, {
		name: "user answers, far end busy",
		s: originate().
			state(2, "a", "Up").dial(2, "", "a", "ANSWER").
			create(2.01, "p", "PJSIP/pstn-2", "Down", "0401234567", "0401234567").
			dialTo(2.01, "a", "p", "0401234567@pstn").
			add(3, Event{Kind: HangupRequest, Channel: Channel{ID: "p"}, Cause: 17}).dial(3, "a", "p", "BUSY").
			hangup(3, "p", 17).hangup(3.1, "a", 17),
		want: []brief{{User: "101", Dir: "outbound", State: "unaccepted", Reason: "busy", Remote: "0401234567"}},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			wantTimes(t, s, acts[0], 0, -1, 3.1)
		},
	}, {
		// The user never picks up: the dial API gives up after the
		// originate's timeout (NOANSWER) and nobody was called. The live
		// stream still shows the attempt.
		name: "user never answers",
		s: originate().
			dial(30, "", "a", "NOANSWER").hangup(30, "a", 0),
		want: []brief{},
		check: func(t *testing.T, s *script, _ []Activity, live []Transition) {
			if len(live) != 2 || live[0].State != Ringing || live[1].State != HungUp || live[0].Direction != Outbound || live[0].RemoteNumber != "0401234567" {
				t.Errorf("live %+v, want ringing then ended, outbound to the number", live)
			}
		},
	}, {
		// Originate Channel Local/101@from-internal (a common click-to-dial
		// form): the dial API dials the Local pair's ;1 half; ;2 runs
		// 101@from-internal and dials her phone; once she answers, ;1 runs
		// the originate's extension and dials out (core_local.c,
		// main/dial.c). She placed the call.
		name: "originate through a Local pair",
		s: newScript().
			create(0, "l1", "Local/101@from-internal-00000001;1", "Down", "", "101").
			create(0, "l2", "Local/101@from-internal-00000001;2", "Ring", "", "101").
			add(0, Event{Kind: Dial, Peer: Channel{ID: "l1"}, DialString: "101@from-internal"}).
			create(0.01, "a", "PJSIP/101-1", "Down", "101", "s").dialTo(0.01, "l2", "a", "101").
			state(0.02, "a", "Ringing").dial(0.02, "l2", "a", "RINGING").
			state(2, "a", "Up").dial(2, "l2", "a", "ANSWER").enter(2, "a", "B1").enter(2, "l2", "B1").
			state(2, "l1", "Up").dial(2, "", "l1", "ANSWER").
			create(2.1, "p", "PJSIP/pstn-2", "Down", "0401234567", "0401234567").
			dialTo(2.1, "l1", "p", "0401234567@pstn").state(2.2, "p", "Ringing").dial(2.2, "l1", "p", "RINGING").
			state(5, "p", "Up").dial(5, "l1", "p", "ANSWER").enter(5, "p", "B2").enter(5, "l1", "B2").
			hangup(9, "p", 16).hangup(9, "l1", 16).hangup(9, "l2", 16).hangup(9, "a", 16),
		want: []brief{{User: "101", Dir: "outbound", State: "connected", Reason: "answered", Remote: "0401234567"}},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			// Connected to her own originate's Local half at 2 s; the far
			// end answered at 5 s. The bridge with the Local half is what
			// Asterisk reports as her being connected.
			wantTimes(t, s, acts[0], 0.01, 2, 9)
		},
	}, {
		// The originate runs an application rather than a number: Exten
		// 701 (ParkedCall). Her phone answers and is bridged with the
		// caller 102 parked: she answered that call.
		name: "originate retrieving a parked call",
		s: newScript().
			create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111222").
			create(0.1, "b", "PJSIP/102-2", "Down", "102", "s").dialTo(0.1, "p", "b", "102").
			state(2, "b", "Up").dial(2, "p", "b", "ANSWER").enter(2, "b", "B1").enter(2, "p", "B1").
			add(5, Event{Kind: BlindTransfer, Channel: Channel{ID: "b"}, Peer: Channel{ID: "p"}, Exten: "700"}).
			leave(5, "p", "B1").enter(5, "p", "lot").leave(5, "b", "B1").hangup(5.01, "b", 16).
			add(10, Event{Kind: ChannelCreated, Channel: Channel{ID: "a", Name: "PJSIP/101-3", State: StateDown, CallerNumber: "701", Exten: "s"}}).
			add(10.005, Event{Kind: Dial, Peer: Channel{ID: "a"}, DialString: "101"}).state(10.006, "a", "Ringing").
			state(12, "a", "Up").dial(12, "", "a", "ANSWER").
			leave(12.5, "p", "lot").enter(12.5, "p", "B2").enter(12.5, "a", "B2").
			hangup(20, "a", 16).hangup(20, "p", 16),
		want: []brief{
			{User: "102", Dir: "inbound", State: "connected", Reason: "transferred", Remote: "+358401234567"},
			{User: "101", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567", TransferredBy: "102"},
		},
	}, {
		// Originate through a Local pair, the user never answers.
		name: "originate through a Local pair, user never answers",
		s: newScript().
			create(0, "l1", "Local/101@from-internal-00000001;1", "Down", "", "101").
			create(0, "l2", "Local/101@from-internal-00000001;2", "Ring", "", "101").
			add(0, Event{Kind: Dial, Peer: Channel{ID: "l1"}, DialString: "101@from-internal"}).
			create(0.01, "a", "PJSIP/101-1", "Down", "101", "s").dialTo(0.01, "l2", "a", "101").
			state(0.02, "a", "Ringing").
			dial(30, "", "l1", "NOANSWER").hangup(30, "l1", 0).dial(30, "l2", "a", "CANCEL").
			hangup(30, "a", 16).hangup(30, "l2", 0),
		want: []brief{},
	}})
}

func TestConferenceRoom(t *testing.T) {
	// conference_room: 101 dials 800, the dialplan answers and runs
	// ConfBridge; she is in the softmix bridge alone until the external
	// caller (straight from the DID) joins.
	join := func(s *script) *script {
		return s.create(0, "a", "PJSIP/101-1", "Ring", "101", "800").state(0.002, "a", "Up").conf(0.5, "a", "C")
	}
	runPaths(t, []pathCase{{
		name: "user alone in the conference",
		s:    join(newScript()).leave(10, "a", "C").hangup(10, "a", 16),
		want: []brief{{User: "101", Dir: "outbound", State: "unaccepted", Reason: "noanswer", Remote: "800"}},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			wantTimes(t, s, acts[0], 0, -1, 10)
		},
	}, {
		name: "another party joins",
		s: join(newScript()).
			create(2, "p", "PJSIP/pstn-2", "Ring", "+358401234567", "+35850111800").state(2.002, "p", "Up").conf(2.5, "p", "C").
			leave(7.5, "a", "C").hangup(7.5, "a", 16).leave(8.5, "p", "C").hangup(8.5, "p", 16),
		want: []brief{{User: "101", Dir: "outbound", State: "connected", Reason: "answered", Remote: "800"}},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			wantTimes(t, s, acts[0], 0, 2.5, 7.5)
			if acts[0].Internal {
				t.Error("a conference room is not a user")
			}
		},
	}, {
		// ConfBridge plays its prompts through an announcer channel
		// (apps/confbridge/conf_chan_announce.c, "CBAnn/800-…;1") that it
		// imparts into the bridge: it is no party, and its name does not
		// make a user "800".
		name: "the announcer is no party",
		s: join(newScript()).
			create(0.6, "ann", "CBAnn/800-00000001;1", "Up", "", "").conf(0.6, "ann", "C").
			leave(1.5, "ann", "C").hangup(1.5, "ann", 16).
			leave(10, "a", "C").hangup(10, "a", 16),
		want: []brief{{User: "101", Dir: "outbound", State: "unaccepted", Reason: "noanswer", Remote: "800"}},
	}, {
		name: "external caller straight into the conference",
		s: newScript().
			create(0, "p", "PJSIP/pstn-2", "Ring", "+358401234567", "+35850111800").state(0.002, "p", "Up").conf(0.5, "p", "C").
			leave(5, "p", "C").hangup(5, "p", 16),
		want: []brief{},
	}, {
		// Two users meet in the room: each has a call to 800, neither an
		// internal call to the other.
		name: "two users in the room",
		s: join(newScript()).
			create(1, "b", "PJSIP/102-2", "Ring", "102", "800").state(1.002, "b", "Up").conf(1.5, "b", "C").
			leave(5, "b", "C").hangup(5, "b", 16).leave(6, "a", "C").hangup(6, "a", 16),
		want: []brief{
			{User: "102", Dir: "outbound", State: "connected", Reason: "answered", Remote: "800"},
			{User: "101", Dir: "outbound", State: "connected", Reason: "answered", Remote: "800"},
		},
	}})
}

// parked is call_park_retrieve up to the park: the caller answered by 101,
// who blind-transfers (REFER) to the parking extension; res_parking puts
// the caller in the lot's holding bridge and 101 hangs up.
func parked() *script {
	return newScript().
		create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111222").
		create(0.002, "a", "PJSIP/101-2", "Down", "101", "s").dialTo(0.002, "p", "a", "101").
		state(0.003, "a", "Ringing").dial(0.003, "p", "a", "RINGING").
		state(2, "a", "Up").dial(2, "p", "a", "ANSWER").enter(2, "a", "B1").enter(2, "p", "B1").
		add(5, Event{Kind: BlindTransfer, Channel: Channel{ID: "a"}, Peer: Channel{ID: "p"}, Exten: "700", Context: "from-internal"}).
		leave(5, "p", "B1").enter(5, "p", "lot").leave(5, "a", "B1").hangup(5.01, "a", 16)
}

func TestParkedCalls(t *testing.T) {
	parker := brief{User: "101", Dir: "inbound", State: "connected", Reason: "transferred", Remote: "+358401234567"}
	runPaths(t, []pathCase{{
		// call_park_retrieve: 102 dials the slot (a new call into the
		// PBX: its own linkedid); ParkedCall answers and bridges him with
		// the parked caller.
		name: "retrieved by a second user",
		s: parked().
			create(9, "b", "PJSIP/102-3", "Ring", "102", "701").state(9.003, "b", "Up").
			leave(9.5, "p", "lot").enter(9.5, "p", "B2").enter(9.5, "b", "B2").
			hangup(13, "b", 16).hangup(13, "p", 16),
		want: []brief{parker, {User: "102", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567", TransferredBy: "101"}},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			wantTimes(t, s, acts[0], 0.003, 2, 5)
			wantTimes(t, s, acts[1], 9, 9.5, 13)
		},
	}, {
		// Nobody retrieves it: after parkingtime res_parking's
		// parking_duration_callback pulls the caller out of the lot and,
		// with comebacktoorigin=yes, sends it to park-dial,PJSIP_101,1,
		// which it creates as Dial(PJSIP/101,<comebackdialtime>). The
		// parker answers the callback: she took the call back, so it is
		// one answered call for her, to the end.
		name: "lot times out, calls the parker back, she answers",
		s: parked().
			leave(65, "p", "lot").
			create(65.01, "a2", "PJSIP/101-4", "Down", "101", "s").dialTo(65.01, "p", "a2", "101").
			state(65.02, "a2", "Ringing").dial(65.02, "p", "a2", "RINGING").
			state(68, "a2", "Up").dial(68, "p", "a2", "ANSWER").enter(68, "a2", "B3").enter(68, "p", "B3").
			hangup(80, "p", 16).hangup(80, "a2", 16),
		want: []brief{{User: "101", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"}},
		check: func(t *testing.T, s *script, acts []Activity, live []Transition) {
			wantTimes(t, s, acts[0], 0.003, 2, 80)
			var states []LiveState
			for _, tr := range live {
				states = append(states, tr.State)
			}
			if len(states) != 6 || states[3] != Ringing || states[4] != Talking || states[5] != HungUp {
				t.Errorf("live states %v: the callback rings, connects and ends again", states)
			}
		},
	}, {
		// The callback is not answered either (Dial NOANSWER after
		// comebackdialtime) and park-dial has no next priority: the
		// caller is hung up. The parker's part ended at the park.
		name: "lot times out, the callback is not answered",
		s: parked().
			leave(65, "p", "lot").
			create(65.01, "a2", "PJSIP/101-4", "Down", "101", "s").dialTo(65.01, "p", "a2", "101").
			state(65.02, "a2", "Ringing").dial(65.02, "p", "a2", "RINGING").
			dial(95, "p", "a2", "NOANSWER").hangup(95, "a2", 0).hangup(95.01, "p", 16),
		want: []brief{parker},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			wantTimes(t, s, acts[0], 0.003, 2, 5)
		},
	}, {
		// comebacktoorigin=no: the caller goes to the parkedcallstimeout
		// context, whose dialplan rings the operator 103 (comeback_goto).
		// 103 answers a call 101 parked.
		name: "lot times out to the operator",
		s: parked().
			leave(65, "p", "lot").
			create(65.01, "c", "PJSIP/103-4", "Down", "103", "s").dialTo(65.01, "p", "c", "103").
			state(65.02, "c", "Ringing").state(67, "c", "Up").dial(67, "p", "c", "ANSWER").
			enter(67, "c", "B3").enter(67, "p", "B3").hangup(70, "c", 16).hangup(70, "p", 16),
		want: []brief{parker, {User: "103", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567", TransferredBy: "101"}},
	}})
}

// forwarded is 101's phone answering 302 to a call from the trunk, with
// chan_pjsip's default redirect_method=user: the Contact's user part
// becomes the forward, and app_dial's do_forward requests
// Local/<target>@<context>, publishes the Dial to 101 ending CANCEL with
// the forward, hangs 101's channel up (cause 23, a 302 in
// ast_sip_hangup_sip2cause) and dials the Local channel from the same
// caller. Its ;2 half runs the target in the dialplan.
func forwarded(target string) *script {
	return newScript().
		create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111222").
		create(0.002, "a", "PJSIP/101-2", "Down", "101", "s").dialTo(0.002, "p", "a", "101").
		state(0.003, "a", "Ringing").dial(0.003, "p", "a", "RINGING").
		create(3, "l1", "Local/"+target+"@from-internal-00000001;1", "Down", "", target).
		create(3, "l2", "Local/"+target+"@from-internal-00000001;2", "Ring", "+358401234567", target).
		forward(3, "p", "a", target).dialTo(3, "p", "l1", target+"@from-internal").
		hangup(3, "a", 23)
}

func TestForwardedCalls(t *testing.T) {
	toBob := func() *script {
		return forwarded("102").
			create(3.01, "b", "PJSIP/102-3", "Down", "102", "s").dialTo(3.01, "l2", "b", "102").
			state(3.02, "b", "Ringing").dial(3.02, "l2", "b", "RINGING").dial(3.02, "p", "l1", "RINGING")
	}
	answered := func(s *script) *script {
		return s.state(6, "b", "Up").dial(6, "l2", "b", "ANSWER").enter(6, "b", "B2").enter(6, "l2", "B2").
			state(6, "l1", "Up").dial(6, "p", "l1", "ANSWER").enter(6, "l1", "B1").enter(6, "p", "B1").
			hangup(10, "b", 16).hangup(10, "l2", 16).hangup(10, "l1", 16).hangup(10, "p", 16)
	}
	bob := brief{User: "102", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"}
	alice := []User{{Extension: "101", Name: "Alice", Mobiles: []string{"0409999999"}}, {Extension: "102", Name: "Bob"}}
	runPaths(t, []pathCase{{
		name: "forwarded to a colleague",
		s:    answered(toBob()),
		want: []brief{bob},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			if acts[0].ForwardedBy != "101" || acts[0].DDI != "+35850111222" {
				t.Errorf("forwarded_by %q ddi %q, want 101 and the DID", acts[0].ForwardedBy, acts[0].DDI)
			}
			wantTimes(t, s, acts[0], 3.02, 6, 10)
		},
	}, {
		name: "forwarded to a colleague, replay --all",
		cfg:  Config{ShowForwarded: true},
		s:    answered(toBob()),
		want: []brief{{User: "101", Dir: "inbound", State: "missed", Reason: "forwarded", Remote: "+358401234567"}, bob},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			wantTimes(t, s, acts[0], 0.003, -1, 3)
		},
	}, {
		// The colleague does not answer and the caller gives up.
		name: "forwarded, the colleague misses it",
		s: toBob().
			add(20, Event{Kind: HangupRequest, Channel: Channel{ID: "p"}, Cause: 127}).
			dial(20, "p", "l1", "CANCEL").hangup(20, "l1", 16).dial(20, "l2", "b", "CANCEL").
			hangup(20, "b", 127).hangup(20, "l2", 16).hangup(20, "p", 127),
		want: []brief{{User: "102", Dir: "inbound", State: "missed", Reason: "cancel", Remote: "+358401234567"}},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			if acts[0].ForwardedBy != "101" {
				t.Errorf("forwarded_by %q", acts[0].ForwardedBy)
			}
		},
	}, {
		// Forwarded to an external number: nobody is the user's.
		name: "forwarded to an external number",
		s: forwarded("0501234567").
			create(3.01, "m", "PJSIP/pstn2-3", "Down", "", "s").dialTo(3.01, "l2", "m", "0501234567@pstn2").
			state(6, "m", "Up").dial(6, "l2", "m", "ANSWER").enter(6, "m", "B2").enter(6, "l2", "B2").
			state(6, "l1", "Up").dial(6, "p", "l1", "ANSWER").enter(6, "l1", "B1").enter(6, "p", "B1").
			hangup(10, "m", 16).hangup(10, "l2", 16).hangup(10, "l1", 16).hangup(10, "p", 16),
		cfg:  Config{Users: alice, Trunks: []string{"pstn", "pstn2"}},
		want: []brief{},
	}, {
		// Forwarded to her own mobile: that is her leg, answered there.
		name: "forwarded to the user's own mobile",
		s: forwarded("0409999999").
			create(3.01, "m", "PJSIP/pstn2-3", "Down", "", "s").dialTo(3.01, "l2", "m", "0409999999@pstn2").
			state(6, "m", "Up").dial(6, "l2", "m", "ANSWER").enter(6, "m", "B2").enter(6, "l2", "B2").
			state(6, "l1", "Up").dial(6, "p", "l1", "ANSWER").enter(6, "l1", "B1").enter(6, "p", "B1").
			hangup(10, "m", 16).hangup(10, "l2", 16).hangup(10, "l1", 16).hangup(10, "p", 16),
		cfg:  Config{Users: alice, Trunks: []string{"pstn", "pstn2"}},
		want: []brief{{User: "101", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"}},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			if acts[0].ForwardedBy != "" {
				t.Errorf("forwarded_by %q: nobody forwarded it to her", acts[0].ForwardedBy)
			}
			wantTimes(t, s, acts[0], 0.003, 6, 10)
		},
	}, {
		// forward_no_answer_to_mobile: the dialplan rings 101 for 5 s,
		// then dials her mobile itself (follow-me). No forward: she was
		// offered the call and took it on her mobile.
		name: "follow-me to the user's own mobile is not a forward",
		cfg:  Config{Users: alice, Trunks: []string{"pstn", "pstn2"}},
		s: newScript().
			create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111999").
			create(0.002, "a", "PJSIP/101-2", "Down", "101", "s").dialTo(0.002, "p", "a", "101").
			state(0.003, "a", "Ringing").dial(5, "p", "a", "NOANSWER").hangup(5, "a", 0).
			create(5.01, "m", "PJSIP/pstn2-3", "Down", "", "s").dialTo(5.01, "p", "m", "0409999999@pstn2").
			state(7, "m", "Up").dial(7, "p", "m", "ANSWER").enter(7, "m", "B").enter(7, "p", "B").
			hangup(10, "m", 16).hangup(10, "p", 16),
		want: []brief{{User: "101", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"}},
	}, {
		// The same without her mobile in the directory: she missed it.
		name: "follow-me to an unknown number",
		s: newScript().
			create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111999").
			create(0.002, "a", "PJSIP/101-2", "Down", "101", "s").dialTo(0.002, "p", "a", "101").
			state(0.003, "a", "Ringing").dial(5, "p", "a", "NOANSWER").hangup(5, "a", 0).
			create(5.01, "m", "PJSIP/pstn2-3", "Down", "", "s").dialTo(5.01, "p", "m", "0409999999@pstn2").
			state(7, "m", "Up").dial(7, "p", "m", "ANSWER").enter(7, "m", "B").enter(7, "p", "B").
			hangup(10, "m", 16).hangup(10, "p", 16),
		cfg:  Config{Trunks: []string{"pstn", "pstn2"}},
		want: []brief{{User: "101", Dir: "inbound", State: "missed", Reason: "noanswer", Remote: "+358401234567"}},
	}})
}

// consulting is attended_transfer up to the consultation ringing 102: the
// AMI Atxfer (bridge_basic.c: dial_transfer requests Local/102@from-internal,
// imparts its ;1 half into a new bridge, calling_target_enter moves 101's
// channel there), the ;2 half dialling 102.
func consulting() *script {
	return newScript().
		create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "+35850111777").
		create(0.004, "a", "PJSIP/101-2", "Down", "101", "s").dialTo(0.004, "p", "a", "101").
		state(0.007, "a", "Ringing").dial(0.007, "p", "a", "RINGING").
		state(2, "a", "Up").dial(2, "p", "a", "ANSWER").enter(2, "a", "A").enter(2, "p", "A").
		create(4.6, "l1", "Local/102@from-internal-00000001;1", "Down", "", "102").
		create(4.6, "l2", "Local/102@from-internal-00000001;2", "Ring", "101", "102").
		enter(4.6, "l1", "B").leave(4.6, "a", "A").enter(4.6, "a", "B").
		create(4.61, "b", "PJSIP/102-3", "Down", "102", "s").dialTo(4.61, "l2", "b", "102").
		state(4.62, "b", "Ringing").dial(4.62, "l2", "b", "RINGING").state(4.62, "l1", "Ringing").dial(4.62, "", "l1", "RINGING")
}

// A source that links the consultation to the call (AMI's linkedid; a SIP
// capture) and reports its dial with a begin but no caller: the PBX dialled
// 102 for the call, not an originate for 102.
func TestConsultationDialBegunWithoutCaller(t *testing.T) {
	s := newScript().
		add(0, Event{Kind: ChannelCreated, Channel: Channel{ID: "p", Name: "PJSIP/pstn-1", State: StateRing, CallerNumber: "+358401234567", Exten: "+35850111777", LinkedID: "p"}}).
		add(0.004, Event{Kind: ChannelCreated, Channel: Channel{ID: "a", Name: "PJSIP/101-2", State: StateDown, CallerNumber: "101", Exten: "s", LinkedID: "p"}}).
		dialTo(0.004, "p", "a", "101").state(0.007, "a", "Ringing").
		state(2, "a", "Up").dial(2, "p", "a", "ANSWER").enter(2, "a", "A").enter(2, "p", "A").
		add(4.6, Event{Kind: ChannelCreated, Channel: Channel{ID: "b", Name: "PJSIP/102-3", State: StateDown, CallerNumber: "102", Exten: "s", LinkedID: "p"}}).
		add(4.6, Event{Kind: Dial, Peer: Channel{ID: "b"}, DialString: "102"}).
		leave(4.6, "a", "A").enter(4.6, "a", "B").
		state(4.62, "b", "Ringing").dial(4.62, "", "b", "RINGING").
		state(6.6, "b", "Up").dial(6.6, "", "b", "ANSWER").enter(6.6, "b", "B").
		add(8, Event{Kind: AttendedTransfer, Channel: Channel{ID: "a"}, Second: "a", Peer: Channel{ID: "p"}, Target: "b"}).
		leave(8, "b", "B").enter(8, "b", "A").hangup(8, "a", 16).
		hangup(11.6, "b", 16).hangup(11.6, "p", 16)
	acts, _ := s.run(t, Config{Source: "test"})
	got := briefs(acts)
	want := []brief{
		{User: "101", Dir: "inbound", State: "connected", Reason: "transferred", Remote: "+358401234567"},
		{User: "102", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567", TransferredBy: "101"},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestConsultationWithoutTransfer(t *testing.T) {
	customer := brief{User: "101", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"}
	runPaths(t, []pathCase{{
		// 102 does not answer; after atxfernoanswertimeout the state
		// machine rebridges 101 with the caller (TRANSFER_REBRIDGE) and
		// destroys the consultation bridge, hanging up the Local channel
		// (lab consult_noanswer_back_to_caller). Nobody called it off:
		// the PBX's timer gave up, no answer for both.
		name: "consulted user never answers",
		s: consulting().
			leave(19.6, "a", "B").enter(19.6, "a", "A").leave(19.6, "l1", "B").hangup(19.6, "l1", 16).
			dial(19.6, "l2", "b", "CANCEL").hangup(19.61, "b", 127).hangup(19.61, "l2", 16).
			hangup(30, "a", 16).hangup(30, "p", 16),
		want: []brief{
			customer,
			{User: "101", Dir: "outbound", State: "unaccepted", Reason: "noanswer", Remote: "102", Internal: true},
			{User: "102", Dir: "inbound", State: "missed", Reason: "noanswer", Remote: "101", Internal: true},
		},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			wantTimes(t, s, acts[0], 0.007, 2, 30) // untouched: full talk
			wantTimes(t, s, acts[1], 4.6, -1, 19.6)
			wantTimes(t, s, acts[2], 4.62, -1, 19.61)
			if acts[1].CallID != "l1" || acts[2].CallID != "l1" || acts[0].CallID != "p" {
				t.Errorf("call ids %s %s %s: the consultation is a call of its own", acts[0].CallID, acts[1].CallID, acts[2].CallID)
			}
		},
	}, {
		// 101 presses the abort code (*1, features.conf atxferabort)
		// while 102 still rings: the same TRANSFER_REBRIDGE, but the
		// transferer gave up: cancel.
		name: "transferer calls the consultation off",
		s: consulting().
			dtmf(9, "a", "*").dtmf(9.3, "a", "1").
			leave(9.4, "a", "B").enter(9.4, "a", "A").leave(9.4, "l1", "B").hangup(9.4, "l1", 16).
			dial(9.4, "l2", "b", "CANCEL").hangup(9.41, "b", 127).hangup(9.41, "l2", 16).
			hangup(30, "a", 16).hangup(30, "p", 16),
		want: []brief{
			customer,
			{User: "101", Dir: "outbound", State: "unaccepted", Reason: "cancel", Remote: "102", Internal: true},
			{User: "102", Dir: "inbound", State: "missed", Reason: "cancel", Remote: "101", Internal: true},
		},
	}, {
		// 102 answers, they talk, 101 goes back to the caller (atxferabort:
		// TRANSFER_REBRIDGE) and the consultation is hung up.
		name: "consulted user answers, transferer goes back",
		s: consulting().
			state(6.6, "b", "Up").dial(6.6, "l2", "b", "ANSWER").enter(6.6, "b", "C").enter(6.6, "l2", "C").
			state(6.6, "l1", "Up").dial(6.6, "", "l1", "ANSWER").
			leave(9, "a", "B").enter(9, "a", "A").leave(9, "l1", "B").hangup(9, "l1", 16).
			hangup(9.01, "b", 16).hangup(9.01, "l2", 16).
			hangup(30, "a", 16).hangup(30, "p", 16),
		want: []brief{
			customer,
			{User: "101", Dir: "outbound", State: "connected", Reason: "answered", Remote: "102", Internal: true},
			{User: "102", Dir: "inbound", State: "connected", Reason: "answered", Remote: "101", Internal: true},
		},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			wantTimes(t, s, acts[0], 0.007, 2, 30)
			wantTimes(t, s, acts[1], 4.6, 6.6, 9)
			wantTimes(t, s, acts[2], 4.62, 6.6, 9.01)
		},
	}, {
		// The same consultation followed by the transfer (101 hangs up:
		// TRANSFER_COMPLETE merges the bridges) is attended_transfer: one
		// call, 101 transferred.
		name: "consultation followed by the transfer",
		s: consulting().
			state(6.6, "b", "Up").dial(6.6, "l2", "b", "ANSWER").enter(6.6, "b", "C").enter(6.6, "l2", "C").
			state(6.6, "l1", "Up").dial(6.6, "", "l1", "ANSWER").
			add(8, Event{Kind: HangupRequest, Channel: Channel{ID: "a"}, Cause: 16}).
			leave(8, "l1", "B").enter(8, "l1", "A").leave(8, "a", "B").
			add(8, Event{Kind: AttendedTransfer, Channel: Channel{ID: "a"}, Second: "a", Peer: Channel{ID: "p"}, Target: "l1"}).
			hangup(8, "a", 16).
			hangup(11.6, "b", 16).hangup(11.6, "l2", 16).hangup(11.6, "l1", 16).hangup(11.6, "p", 16),
		want: []brief{
			{User: "101", Dir: "inbound", State: "connected", Reason: "transferred", Remote: "+358401234567"},
			{User: "102", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567", TransferredBy: "101"},
		},
	}})
}

func TestAdoptedFromSnapshot(t *testing.T) {
	s0 := newScript()
	runPaths(t, []pathCase{{
		// Found ringing: the caller in Dial, 101's channel dialled by it
		// (AppDial), Ringing. The answer is seen live.
		name: "mid-ring",
		s: newScript().
			add(1, Event{Kind: Snapshot, Channels: []Channel{
				{ID: "p", Name: "PJSIP/pstn-1", State: StateRing, App: "Dial", CallerNumber: "+358401234567", Exten: "+35850111222", Created: s0.at(0)},
				{ID: "a", Name: "PJSIP/101-2", State: StateRinging, App: "AppDial", ConnectedNumber: "+358401234567", Created: s0.at(0.01)},
			}}).
			state(3, "a", "Up").
			add(3, Event{Kind: Dial, Channel: Channel{ID: "p"}, Peer: Channel{ID: "a"}, DialStatus: "ANSWER"}).
			enter(3, "a", "B").enter(3, "p", "B").hangup(8, "p", 16).hangup(8, "a", 16),
		want: []brief{{User: "101", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"}},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			wantTimes(t, s, acts[0], 0.01, 3, 8)
			if acts[0].DDI != "+35850111222" {
				t.Errorf("ddi %q", acts[0].DDI)
			}
		},
	}, {
		name: "mid-ring, the caller gives up",
		s: newScript().
			add(1, Event{Kind: Snapshot, Channels: []Channel{
				{ID: "p", Name: "PJSIP/pstn-1", State: StateRing, App: "Dial", CallerNumber: "+358401234567", Exten: "+35850111222", Created: s0.at(0)},
				{ID: "a", Name: "PJSIP/101-2", State: StateRinging, App: "AppDial", ConnectedNumber: "+358401234567", Created: s0.at(0.01)},
			}}).
			add(4, Event{Kind: Dial, Channel: Channel{ID: "p"}, Peer: Channel{ID: "a"}, DialStatus: "CANCEL"}).
			hangup(4, "a", 127).hangup(4, "p", 127),
		want: []brief{{User: "101", Dir: "inbound", State: "missed", Reason: "cancel", Remote: "+358401234567"}},
	}, {
		// Found talking after a restart: the snapshot's time is the last
		// journaled moment, long before this call began. It is answered
		// no earlier than the bridge (made at the answer) existed.
		name: "mid-talk, inbound",
		s: newScript().
			add(100, Event{Kind: Snapshot, Time: s0.at(10), Channels: []Channel{
				{ID: "p", Name: "PJSIP/pstn-1", State: StateUp, App: "Dial", CallerNumber: "+358401234567", Exten: "+35850111222", Bridge: "B", Bridged: s0.at(63), Created: s0.at(60)},
				{ID: "a", Name: "PJSIP/101-2", State: StateUp, App: "AppDial", Bridge: "B", Bridged: s0.at(63), Created: s0.at(60.01)},
			}}).
			hangup(110, "p", 16).hangup(110, "a", 16),
		want: []brief{{User: "101", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"}},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			wantTimes(t, s, acts[0], 60.01, 63, 110)
		},
	}, {
		// The same for a call 101 placed: her channel runs Dial, the
		// trunk's is AppDial. Without a bridge time (AMI lists none) the
		// answer is no earlier than the newer channel.
		name: "mid-talk, outbound",
		s: newScript().
			add(100, Event{Kind: Snapshot, Time: s0.at(10), Channels: []Channel{
				{ID: "a", Name: "PJSIP/101-2", State: StateUp, App: "Dial", Exten: "0401234567", Bridge: "B", Created: s0.at(60)},
				{ID: "p", Name: "PJSIP/pstn-1", State: StateUp, App: "AppDial", CallerNumber: "+35850111222", Bridge: "B", Created: s0.at(60.01)},
			}}).
			hangup(110, "a", 16).hangup(110, "p", 16),
		want: []brief{{User: "101", Dir: "outbound", State: "connected", Reason: "answered", Remote: "0401234567"}},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			wantTimes(t, s, acts[0], 60, 60.01, 110)
		},
	}, {
		// A user's channel in AppDial2 is an originate still ringing her
		// phone: if she never answers, nobody was called.
		name: "mid-ring originate",
		s: newScript().
			add(1, Event{Kind: Snapshot, Channels: []Channel{
				{ID: "a", Name: "PJSIP/101-1", State: StateRinging, App: "AppDial2", Exten: "s", ConnectedNumber: "0401234567", Created: s0.at(0)},
			}}).
			add(30, Event{Kind: Dial, Peer: Channel{ID: "a"}, DialStatus: "NOANSWER"}).hangup(30, "a", 0),
		want: []brief{},
	}, {
		// Found in the middle of attended_transfer's consultation: the
		// caller alone on hold in A, 101 with the Local half in B, 102
		// ringing. 102 answers and 101 completes the transfer live.
		name: "mid-transfer",
		s: newScript().
			add(5, Event{Kind: Snapshot, Time: s0.at(1), Channels: []Channel{
				{ID: "p", Name: "PJSIP/pstn-1", State: StateUp, App: "Dial", CallerNumber: "+358401234567", Exten: "+35850111777", Bridge: "A", Bridged: s0.at(2), Created: s0.at(0)},
				{ID: "a", Name: "PJSIP/101-2", State: StateUp, App: "AppDial", ConnectedNumber: "+358401234567", Bridge: "B", Bridged: s0.at(4.6), Created: s0.at(0.004)},
				{ID: "l1", Name: "Local/102@from-internal-00000001;1", State: StateRinging, Exten: "102", Bridge: "B", Bridged: s0.at(4.6), Created: s0.at(4.6)},
				{ID: "l2", Name: "Local/102@from-internal-00000001;2", State: StateRing, App: "Dial", Exten: "102", Created: s0.at(4.6)},
				{ID: "b", Name: "PJSIP/102-3", State: StateRinging, App: "AppDial", ConnectedNumber: "101", Created: s0.at(4.61)},
			}}).
			state(6.6, "b", "Up").dial(6.6, "l2", "b", "ANSWER").enter(6.6, "b", "C").enter(6.6, "l2", "C").
			state(6.6, "l1", "Up").dial(6.6, "", "l1", "ANSWER").
			add(8, Event{Kind: HangupRequest, Channel: Channel{ID: "a"}, Cause: 16}).
			leave(8, "l1", "B").enter(8, "l1", "A").leave(8, "a", "B").
			add(8, Event{Kind: AttendedTransfer, Channel: Channel{ID: "a"}, Second: "a", Peer: Channel{ID: "p"}, Target: "l1"}).
			hangup(8, "a", 16).
			hangup(11.6, "b", 16).hangup(11.6, "l2", 16).hangup(11.6, "l1", 16).hangup(11.6, "p", 16),
		want: []brief{
			{User: "101", Dir: "inbound", State: "connected", Reason: "transferred", Remote: "+358401234567"},
			{User: "102", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567", TransferredBy: "101"},
		},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			// 101's answer was before the snapshot and is not known: she
			// is taken as connected from the consultation bridge, no
			// earlier; her talk is understated, never overstated.
			wantTimes(t, s, acts[0], 0.004, 4.6, 8)
			wantTimes(t, s, acts[1], 4.61, 6.6, 11.6)
		},
	}})
}

func TestPrivacyRules(t *testing.T) {
	rules := PrivacyRules{
		Prefixes: []PrivacyPrefix{{Prefix: "*99", Class: PrivacyPrivate}},
		Numbers:  []PrivacyNumber{{Number: "+358 40 111 1111", Class: PrivacyUnclassified}},
	}
	// private_call without the dialplan's Set(CALLBRIDGE_PRIVACY=…): the
	// code alone marks it.
	private := newScript().
		create(0, "a", "PJSIP/101-1", "Ring", "+35850111222", "*990401234567").
		create(0.1, "p", "PJSIP/pstn-2", "Down", "", "s").dialTo(0.1, "a", "p", "0401234567@pstn").
		dial(2, "a", "p", "ANSWER").enter(2, "p", "B").enter(2, "a", "B").hangup(5, "a", 16).hangup(5, "p", 16)
	privacy := func(want ...string) func(t *testing.T, s *script, acts []Activity, _ []Transition) {
		return func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			for i, a := range acts {
				if a.Privacy != want[i] {
					t.Errorf("%s: privacy %q, want %q", a.User, a.Privacy, want[i])
				}
			}
		}
	}
	runPaths(t, []pathCase{{
		name:  "prefix, the PBX dials out without it",
		cfg:   Config{Privacy: rules},
		s:     private,
		want:  []brief{{User: "101", Dir: "outbound", State: "connected", Reason: "answered", Remote: "0401234567"}},
		check: privacy(PrivacyPrivate),
	}, {
		// SIP sees the INVITE to *990401234567 and no dial string.
		name: "prefix, nothing but the number dialled",
		cfg:  Config{Privacy: rules},
		s: newScript().
			create(0, "a", "PJSIP/101-1", "Ring", "101", "*990401234567").
			create(0.1, "p", "PJSIP/pstn-2", "Down", "", "s").dial(0.1, "a", "p", "").
			dial(2, "a", "p", "ANSWER").enter(2, "p", "B").enter(2, "a", "B").hangup(5, "a", 16).hangup(5, "p", 16),
		want:  []brief{{User: "101", Dir: "outbound", State: "connected", Reason: "answered", Remote: "0401234567"}},
		check: privacy(PrivacyPrivate),
	}, {
		// A private call to a colleague marks both of their parts.
		name: "prefix on an internal call",
		cfg:  Config{Privacy: rules},
		s: newScript().
			create(0, "a", "PJSIP/101-1", "Ring", "101", "*99102").
			create(0.1, "b", "PJSIP/102-2", "Down", "101", "s").dialTo(0.1, "a", "b", "102").
			dial(2, "a", "b", "ANSWER").enter(2, "b", "B").enter(2, "a", "B").hangup(5, "a", 16).hangup(5, "b", 16),
		want: []brief{
			{User: "101", Dir: "outbound", State: "connected", Reason: "answered", Remote: "102", Internal: true},
			{User: "102", Dir: "inbound", State: "connected", Reason: "answered", Remote: "101", Internal: true},
		},
		check: privacy(PrivacyPrivate, PrivacyPrivate),
	}, {
		name: "no rules: a work call",
		s:    private,
		want: []brief{{User: "101", Dir: "outbound", State: "connected", Reason: "answered", Remote: "0401234567"}},
		check: func(t *testing.T, s *script, acts []Activity, x []Transition) {
			privacy(PrivacyWork)(t, s, acts, x)
		},
	}, {
		// A listed number calling a ring group: every user's part.
		name: "number list",
		cfg:  Config{Privacy: rules},
		s: newScript().
			create(0, "p", "PJSIP/pstn-1", "Ring", "0401111111", "+35850111333").
			create(0.1, "a", "PJSIP/101-2", "Down", "101", "s").dialTo(0.1, "p", "a", "101").
			create(0.1, "b", "PJSIP/102-3", "Down", "102", "s").dialTo(0.1, "p", "b", "102").
			dial(3, "p", "b", "ANSWER").dial(3, "p", "a", "CANCEL").hangup(3, "a", 26).
			enter(3, "b", "B").enter(3, "p", "B").hangup(9, "p", 16).hangup(9, "b", 16),
		want: []brief{
			{User: "101", Dir: "inbound", State: "missed", Reason: "answered_elsewhere", Remote: "0401111111"},
			{User: "102", Dir: "inbound", State: "connected", Reason: "answered", Remote: "0401111111"},
		},
		check: privacy(PrivacyUnclassified, PrivacyUnclassified),
	}, {
		// The dialplan's mark and a rule: the stricter wins.
		name: "rule and variable",
		cfg:  Config{Privacy: rules},
		s: newScript().
			create(0, "p", "PJSIP/pstn-1", "Ring", "0401111111", "+35850111222").
			varset(0, "p", "__"+PrivacyVar, "private").
			create(0.1, "a", "PJSIP/101-2", "Down", "101", "s").dialTo(0.1, "p", "a", "101").
			dial(3, "p", "a", "ANSWER").enter(3, "a", "B").enter(3, "p", "B").hangup(9, "p", 16).hangup(9, "a", 16),
		want:  []brief{{User: "101", Dir: "inbound", State: "connected", Reason: "answered", Remote: "0401111111"}},
		check: privacy(PrivacyPrivate),
	}})
}

// A stream joined mid-call with no snapshot to go by: the first event
// about a channel carries what the PBX shows of it (ARI's dialplan
// application). A phone the PBX dialled (AppDial) was offered the call,
// from its creation; found answered, it is connected from then on, never
// earlier. Before the application was read, the answered phone read as a
// user placing a call.
func TestAdoptedFromLiveEvents(t *testing.T) {
	s0 := newScript()
	runPaths(t, []pathCase{{
		name: "answer seen",
		s: newScript().
			add(6, Event{Kind: ChannelUpdated, Channel: Channel{ID: "a", Name: "PJSIP/101-2", State: StateUp, App: "AppDial",
				ConnectedNumber: "+358401234567", Created: s0.at(0.01)}}).
			add(6, Event{Kind: Dial, Channel: Channel{ID: "p", Name: "PJSIP/pstn-1", State: StateRing, App: "", CallerNumber: "+358401234567",
				Exten: "+35850111222", Created: s0.at(0)}, Peer: Channel{ID: "a"}, DialStatus: "ANSWER"}).
			enter(6.01, "a", "B").enter(6.01, "p", "B").hangup(10, "a", 16).hangup(10, "p", 16),
		want: []brief{{User: "101", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"}},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			wantTimes(t, s, acts[0], 0.01, 6, 10)
		},
	}, {
		// First seen talking, as the call is handed on: connected as of
		// that event, which understates the talk.
		name: "found talking",
		s: newScript().
			add(5, Event{Kind: ChannelUpdated, Channel: Channel{ID: "b", Name: "PJSIP/102-3", State: StateUp, App: "AppDial",
				ConnectedNumber: "+358401234567", Created: s0.at(1)}}).
			hangup(9, "b", 16),
		want: []brief{{User: "102", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"}},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			wantTimes(t, s, acts[0], 1, 5, 9)
		},
	}, {
		// Without the application (AMI's events carry none), an answered
		// channel is taken as calling in, as before.
		name: "no application",
		s: newScript().
			add(5, Event{Kind: ChannelUpdated, Channel: Channel{ID: "a", Name: "PJSIP/101-2", State: StateUp, CallerNumber: "101", Exten: "0401234567", Created: s0.at(0)}}).
			add(5, Event{Kind: BridgeEnter, Channel: Channel{ID: "t", Name: "PJSIP/pstn-4", State: StateUp, App: "AppDial", Created: s0.at(1)}, Bridge: "B"}).
			enter(5, "a", "B").hangup(9, "a", 16).hangup(9, "t", 16),
		want: []brief{{User: "101", Dir: "outbound", State: "connected", Reason: "answered", Remote: "0401234567"}},
	}})
}

// A phone the PBX dialled (AppDial) that a snapshot finds with nobody to
// talk to, and that meets nobody before it hangs up, is what was left of a
// call that ended while the source was away: no call of its own. Each case
// is a moment of a recording at which a second instance (or a restart with
// nothing journaled) lists the channels; the instance that saw the call
// from its start reports it whole, under the caller's channel id, so an
// activity here would be the same call delivered twice under another id
// (and with its last moments for content: no talk, or missed when a
// colleague answered).
func TestAdoptedRemnant(t *testing.T) {
	s0 := newScript()
	alice := Channel{ID: "a", Name: "PJSIP/101-2", State: StateUp, App: "AppDial", CallerNumber: "101",
		ConnectedNumber: "+358401234567", Bridge: "B", Bridged: s0.at(3), Created: s0.at(0.2)}
	caller := Channel{ID: "p", Name: "PJSIP/pstn-1", State: StateUp, App: "Dial", CallerNumber: "+358401234567",
		ConnectedNumber: "101", Exten: "+35850111222", Created: s0.at(0)}
	with := func(c Channel, f func(*Channel)) Channel { f(&c); return c }
	runPaths(t, []pathCase{{
		// inbound_answered after the caller's ChannelDestroyed: Alice's
		// phone alone in the bridge, a moment from its own hang-up.
		name: "the caller gone, the phone alone in the old bridge",
		s: newScript().
			add(8.2, Event{Kind: Snapshot, Time: s0.at(1), Listed: s0.at(8.2), Channels: []Channel{alice}}).
			leave(8.21, "a", "B").hangup(8.23, "a", 0),
		want: []brief{},
	}, {
		// inbound_answered after the caller left the bridge: still
		// listed, out of any bridge and hanging up.
		name: "the caller listed, out of the bridge",
		s: newScript().
			add(8.2, Event{Kind: Snapshot, Time: s0.at(1), Listed: s0.at(8.2), Channels: []Channel{
				with(caller, func(c *Channel) { c.App = "" }), alice,
			}}).
			hangup(8.21, "p", 16).leave(8.22, "a", "B").hangup(8.23, "a", 0),
		want: []brief{},
	}, {
		// inbound_missed_cancel after the caller hung up: Alice's phone
		// still ringing while the PBX takes the call back.
		name: "the phone still ringing after the caller gave up",
		s: newScript().
			add(4, Event{Kind: Snapshot, Time: s0.at(1), Listed: s0.at(4), Channels: []Channel{
				with(alice, func(c *Channel) { c.State, c.Bridge, c.Bridged = StateRinging, "", time.Time{} }),
			}}).
			hangup(4.01, "a", 0),
		want: []brief{},
	}, {
		// ring_group after Bob answered: Alice's phone, dialled by the
		// same Dial, is being hung up (cause 26). The caller and Bob are
		// a call; Alice's part of it (missed, answered elsewhere) is the
		// caller's call's too, which this instance never saw linked.
		name: "a colleague answered, the other phone hanging up",
		s: newScript().
			add(5, Event{Kind: Snapshot, Time: s0.at(1), Listed: s0.at(5), Channels: []Channel{
				with(caller, func(c *Channel) { c.Bridge, c.Bridged = "B", s0.at(5) }),
				{ID: "b", Name: "PJSIP/102-3", State: StateUp, App: "AppDial", CallerNumber: "102", ConnectedNumber: "+358401234567",
					Bridge: "B", Bridged: s0.at(5), Created: s0.at(0.2)},
				with(alice, func(c *Channel) { c.State, c.Bridge, c.Bridged = StateRinging, "", time.Time{} }),
			}}).
			hangup(5.01, "a", 26).hangup(9, "p", 16).hangup(9, "b", 16),
		want: []brief{{User: "102", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"}},
	}, {
		// Found between two bridges, the caller held in a holding
		// bridge: once the two meet it is a call, the caller's.
		name: "alone between bridges, then bridged with the caller",
		s: newScript().
			add(5, Event{Kind: Snapshot, Time: s0.at(1), Listed: s0.at(5), Channels: []Channel{
				with(caller, func(c *Channel) { c.Bridge, c.Bridged = "H", s0.at(4) }),
				with(alice, func(c *Channel) { c.Bridge, c.Bridged = "", time.Time{} }),
			}}).
			leave(6, "p", "H").enter(6, "p", "C").enter(6, "a", "C").
			hangup(9, "p", 16).hangup(9, "a", 16),
		want: []brief{{User: "101", Dir: "inbound", State: "connected", Reason: "answered", Remote: "+358401234567"}},
		check: func(t *testing.T, s *script, acts []Activity, _ []Transition) {
			if acts[0].CallID != "p" {
				t.Errorf("call id %q, want the caller's channel p", acts[0].CallID)
			}
			wantTimes(t, s, acts[0], 0.2, 5, 9)
		},
	}})
}
