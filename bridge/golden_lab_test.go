package bridge_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

const lab = "../testdata/lab"

// labExpected holds, per lab recording (testdata/lab, see its README), the
// activities its scenario.md asks for under "What a CRM user should see",
// with the evidence read off the SIP timeline (t from the first SIP
// packet). The engine runs with the golden tests' default configuration
// (users by extension pattern, trunk pstn), `replay --all`'s view: a
// forwarding user's activity (reason forwarded) is shown.
var labExpected = map[string][]want{
	// REST POST /channels, no app: 101's leg created at t≈-0.004, her 200
	// at 2.008, the trunk's 200 at 4.020 (both bridged), its BYE at 8.024.
	// She placed the call: outbound from her leg's creation, answered when
	// the far end did, not when her own phone picked up.
	"ari_click_to_dial_answered": {{user: "101", dir: "outbound", state: "connected", reason: "answered", remote: "0401234567", ring: 4.02, talk: 4.0}},
	// As above with channelId cb-c2d-0001 (checked in labCallIDs): 101's
	// 200 at 2.008, the trunk's at 4.017, its BYE at 8.021.
	"ari_click_to_dial_channel_id": {{user: "101", dir: "outbound", state: "connected", reason: "answered", remote: "0401234567", ring: 4.02, talk: 4.0}},
	// 101 rings 10 s and is CANCELled (ChannelDestroyed cause 19, no final
	// Dial): she never picked up her own phone, nobody was called.
	"ari_click_to_dial_noanswer": {},
	// REST answers only (500 Allocation failed, 400s): no event at all.
	"ari_click_to_dial_refused": {},
	// 101 answers at 2.006 and is hung up at once (no-such-context);
	// nothing was dialled: her outbound call failed, never connected.
	"ari_click_to_dial_bad_context": {{user: "101", dir: "outbound", state: "unaccepted", reason: "failed", remote: "0401234567", ring: 2.02}},
	// AMI Originate: 101 answers at 2.01 (OriginateResponse Success), the
	// trunk answers at 4.013, BYE at 8.018.
	"ami_click_to_dial_answered": {{user: "101", dir: "outbound", state: "connected", reason: "answered", remote: "0401234567", ring: 4.01, talk: 4.0}},
	// 101 rings 10 s, OriginateResponse Failure Reason 3: no activity.
	"ami_click_to_dial_noanswer":            {},
	"ami_click_to_dial_channel_id_noanswer": {},
	// Originates refused before any channel existed: nothing.
	"ami_click_to_dial_refused": {},
	// Trunk 180 at 0.004, 404 at 2.008; 101 gets 503 (the dialplan's
	// Hangup(34)). The far end's cause 1: failed.
	"outbound_generic_404": {{user: "101", dir: "outbound", state: "unaccepted", reason: "failed", remote: "0501234567", ring: 2.0}},
	// Trunk 180 at 0.005, 480 at 2.008 (cause 19): no answer.
	"outbound_generic_480": {{user: "101", dir: "outbound", state: "unaccepted", reason: "noanswer", remote: "0501234567", ring: 2.0}},
	// Trunk 486 at 1.009 (cause 17), 101's leg cause 34: busy.
	"outbound_generic_486": {{user: "101", dir: "outbound", state: "unaccepted", reason: "busy", remote: "0501234567", ring: 1.0}},
	// Trunk 404 at 2.008; 101 gets 480 (Hangup(20)), Dial NOANSWER: the
	// far end's cause 1 decides, failed.
	"outbound_notfound_404": {{user: "101", dir: "outbound", state: "unaccepted", reason: "failed", remote: "0401234567", ring: 2.0}},
	// INVITE to 103 at 0.003, never answered (not even 100), the caller
	// gets 480 at 10.016: a phone silent until the Dial timeout is no
	// answer, not the caller's cancel; ends with her channel, not with
	// the INVITE's later retransmissions.
	"inbound_user_unreachable": {{user: "103", dir: "inbound", state: "missed", reason: "noanswer", remote: "+358401234567", ddi: "+35850111503", ring: 10.0}},
	// 101 answers at 2.012, parks at 5.016; the lot calls her back at
	// 15.023, she answers at 17.028 and hangs up at 20.033. One activity,
	// answered (the call came back to her), the time in the lot is talk.
	"park_timeout_callback_answered": {{user: "101", dir: "inbound", state: "connected", reason: "answered", remote: "+358401234567", ddi: "+35850111222", ring: 2.0, talk: 18.0}},
	// As above, but the callback rings 15.024-25.027 unanswered: she keeps
	// the activity as at the park (transferred, talk 3 s); no missed call.
	"park_timeout_callback_unanswered": {{user: "101", dir: "inbound", state: "connected", reason: "transferred", remote: "+358401234567", ddi: "+35850111222", ring: 2.0, talk: 3.0}},
	// 101 dials 800, answered at 0.002, alone in the ConfBridge until her
	// BYE at 4.004: a call to the room (never a user), nobody came.
	"conference_alone": {{user: "101", dir: "outbound", state: "unaccepted", reason: "noanswer", remote: "800", ring: 4.0}},
	// An external caller alone in the room: no user was offered anything.
	"conference_external_only": {},
	// 101's phone answers 302 to 103 at 1.082; Carol's INVITE at 1.183,
	// 200 at 3.236 (bridged ~3.34), BYE at 6.424. Alice forwarded (no
	// activity by default); Carol's is from the caller, forwarded by 101.
	"forward_302_to_user": {
		{user: "101", dir: "inbound", state: "missed", reason: "forwarded", remote: "+358401234567", ddi: "+35850111222", ring: 1.05},
		{user: "103", dir: "inbound", state: "connected", reason: "answered", remote: "+358401234567", ddi: "+35850111222", forwardedBy: "101", ring: 2.15, talk: 3.1},
	},
	// 101's phone answers 302 to 0409999999 at 1.050, which is no user
	// here: nobody gets an activity (Alice's is forwarded, shown by --all).
	"forward_302_to_external": {{user: "101", dir: "inbound", state: "missed", reason: "forwarded", remote: "+358401234567", ddi: "+35850111222", ring: 1.07}},
	// 101 answers at 2.03; the Atxfer consultation to 102 from 4.40 rings
	// until the PBX's 15 s no-answer timer rebridges 101 at 19.445; 101's
	// BYE at 27.046. The outside call is untouched (full talk); the
	// consultation is an internal call of its own, no answer for both
	// (nobody pressed a key: the timer gave up).
	"consult_noanswer_back_to_caller": {
		{user: "101", dir: "inbound", state: "connected", reason: "answered", remote: "+358401234567", ddi: "+35850111777", ring: 2.02, talk: 25.0},
		{user: "101", dir: "outbound", internal: true, state: "unaccepted", reason: "noanswer", remote: "102", ring: 15.05},
		{user: "102", dir: "inbound", internal: true, state: "missed", reason: "noanswer", remote: "101", ring: 15.0},
	},
	// The same, Bob answers at 6.355; Alice's *1 at 8.41/8.71 brings her
	// back at 8.809; her BYE at 14.011.
	"consult_abort_back_to_caller": {
		{user: "101", dir: "inbound", state: "connected", reason: "answered", remote: "+358401234567", ddi: "+35850111777", ring: 2.0, talk: 12.0},
		{user: "101", dir: "outbound", internal: true, state: "connected", reason: "answered", remote: "102", ring: 2.0, talk: 2.45},
		{user: "102", dir: "inbound", internal: true, state: "connected", reason: "answered", remote: "101", ring: 2.0, talk: 2.45},
	},
}

// labDirectoryLab are the lab recordings whose meaning depends on the user
// directory (labDirectory: 0409999999 is Alice's mobile).
var labDirectoryLab = map[string][]want{
	// The forward reaches Alice's own mobile (pstn2 200 at 3.086, BYE at
	// 6.090): her leg, answered there, no forwarded_by.
	"forward_302_to_external": {{user: "101", dir: "inbound", state: "connected", reason: "answered", remote: "+358401234567", ddi: "+35850111222", ring: 3.09, talk: 3.0}},
}

// labCallIDs are call ids scenario.md names: the originate's chosen
// channel id is the call's linkedid.
var labCallIDs = map[string]string{"ari_click_to_dial_channel_id": "cb-c2d-0001"}

func labNames(t *testing.T) (names, adopt []string) {
	t.Helper()
	ents, err := os.ReadDir(lab)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(lab, e.Name(), "scenario.md")); err != nil {
			continue
		}
		if strings.HasPrefix(e.Name(), "adopt_") {
			adopt = append(adopt, e.Name())
		} else {
			names = append(names, e.Name())
		}
	}
	if len(names)+len(adopt) != 25 {
		t.Fatalf("%d lab recordings under %s, want 25", len(names)+len(adopt), lab)
	}
	return names, adopt
}

// TestGoldenLab replays every lab recording that starts before its call
// from ARI and from AMI, checks both against scenario.md (labExpected) and
// against each other (same ids, fields, times within 0.5 s).
func TestGoldenLab(t *testing.T) {
	names, _ := labNames(t)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			ws, ok := labExpected[name]
			if !ok {
				t.Fatal("no expectation for this recording")
			}
			for _, dir := range []bool{false, true} {
				mk := defaultConfig
				if dir {
					if labDirectoryLab[name] == nil {
						continue
					}
					mk, ws = labDirectory, labDirectoryLab[name]
				}
				cfg := func(src string) bridge.Config { c := mk(src); c.ShowForwarded = true; return c }
				acts := replayDir(t, lab, name, "ari", cfg("ari"))
				amiActs := replayDir(t, lab, name, "ami", cfg("ami"))
				checkExpected(t, "ari", ws, acts)
				checkExpected(t, "ami", ws, amiActs)
				sameActivities(t, amiActs, acts)
				if !dir {
					compareGolden(t, "lab/"+name, acts)
				}
				if id := labCallIDs[name]; id != "" {
					for _, a := range acts {
						if a.CallID != id {
							t.Errorf("call_id %s, want %s", a.CallID, id)
						}
					}
				}
			}
		})
	}
}

// labAdopted holds, per adopt_* recording, what scenario.md asks of the
// calls a fresh connection finds in progress (the websocket and AMI
// session connected mid-call, the snapshot read at once): the activities
// of the whole call (ari-full.jsonl), with the times the adoption can know.
var labAdopted = map[string][]want{
	// Connected at t≈2.89 while 101 rings (snapshot: the trunk in
	// Dial(PJSIP/101,20), 101 AppDial, Ringing); 101 answers at 6.011
	// (seen live), BYE at 10.016. Inbound: she was offered the call.
	"adopt_mid_ring": {{user: "101", dir: "inbound", state: "connected", reason: "answered", remote: "+358401234567", ddi: "+35850111222", ring: 6.01, talk: 4.04}},
	// Connected at t≈5.0 while 101 talks (answered at 2.078; the bridge's
	// creationtime 2.081); her BYE at 10.089.
	"adopt_mid_talk": {{user: "101", dir: "inbound", state: "connected", reason: "answered", remote: "+358401234567", ddi: "+35850111222", ring: 2.03, talk: 8.01}},
	// Connected at t≈8.1 during the Atxfer consultation (caller held
	// alone, 101 with Local;1, 102 with Local;2); 101's BYE at 10.022
	// completes the transfer; 102's BYE at 14.390. The shared
	// attended_transfer rules: 101 transferred, 102 from the caller,
	// transferred by 101; no consultation activity. (The slow lab
	// machine bridged 101 with the caller only at 2.89, 0.83 s after her
	// answer: the whole call's 101 is connected from then.)
	"adopt_mid_transfer": {
		{user: "101", dir: "inbound", state: "connected", reason: "transferred", remote: "+358401234567", ddi: "+35850111777", ring: 2.88, talk: 7.13},
		{user: "102", dir: "inbound", state: "connected", reason: "answered", remote: "+358401234567", ddi: "+35850111777", transferredBy: "101", ring: 2.01, talk: 8.0},
	},
}

// amiAge is how late AMI can date an adopted channel's creation: its
// CoreShowChannel gives only the age in whole seconds (Duration).
const amiAge = time.Second

// TestGoldenLabAdopted replays each adopt_* recording as a restarted
// callbridge sees it: ARI from the snapshot (ari-snapshot.json) and the
// fresh websocket, AMI from the fresh session with its CoreShowChannels
// list. The reference is the whole call from before it began
// (ari-full.jsonl, and ami-full.txt, which must agree with it). Checked,
// per activity: the fields scenario.md asks for (direction included:
// from who placed the call, not a guess); started_at from the channel's
// creation (ARI's creationtime exactly, AMI's Duration up to a second
// late, never early); answered_at never before the channel's creation and
// never before the real answer (talk is never overstated); ended_at the
// real end; ARI and AMI with the same ids and fields.
func TestGoldenLabAdopted(t *testing.T) {
	_, adopt := labNames(t)
	for _, name := range adopt {
		t.Run(name, func(t *testing.T) {
			ws, ok := labAdopted[name]
			if !ok {
				t.Fatal("no expectation for this recording")
			}
			ref := replayFull(t, name, "ari")
			refAMI := replayFull(t, name, "ami")
			checkExpected(t, "ari", ws, ref) // the whole call
			sameActivities(t, refAMI, ref)
			ari := replayDir(t, lab, name, "ari", defaultConfig("ari"))
			ami := replayDir(t, lab, name, "ami", defaultConfig("ami"))
			compareGolden(t, "lab/"+name, ari)
			for _, src := range []struct {
				name string
				acts []bridge.Activity
				late time.Duration // how late the start may be
			}{{"ari", ari, tolerance * 1000 * time.Millisecond}, {"ami", ami, amiAge}} {
				checkFields(t, src.name, ws, src.acts)
				adoptedTimes(t, src.name, src.acts, ref, src.late)
			}
			byID := func(as []bridge.Activity) map[string]bridge.Activity {
				m := map[string]bridge.Activity{}
				for _, a := range as {
					m[a.ID] = a
				}
				return m
			}
			am := byID(ami)
			for id, a := range byID(ari) {
				if b, ok := am[id]; !ok || got(a).fields() != got(b).fields() || a.CallID != b.CallID {
					t.Errorf("ARI and AMI differ on %s: %s / %s", id, got(a).fields(), got(b).fields())
				}
			}
		})
	}
}

// TestGoldenLabJoinedWithoutSnapshot replays adopt_mid_ring's fresh
// websocket without its snapshot, as a client that joins a call's events
// mid-ring and lists nothing: Alice's channel is first met in a live event
// (ChannelStateChange Up), whose dialplan application (AppDial: the PBX
// dialled her) says she was offered the call. scenario.md: inbound,
// connected, from the caller, started at her channel's creation; her
// answer is that very event (6.011), her BYE 10.016.
func TestGoldenLabJoinedWithoutSnapshot(t *testing.T) {
	acts := replayCopy(t, "adopt_mid_ring", "ari.jsonl", "ari")
	checkExpected(t, "ari", []want{{user: "101", dir: "inbound", state: "connected", reason: "answered",
		remote: "+358401234567", ddi: "+35850111222", ring: 6.0, talk: 4.04}}, acts)
}

// replayFull replays a recording's whole-call reference stream
// (ari-full.jsonl or ami-full.txt).
func replayFull(t *testing.T, name, source string) []bridge.Activity {
	t.Helper()
	return replayCopy(t, name, map[string]string{"ari": "ari-full.jsonl", "ami": "ami-full.txt"}[source], source)
}

// replayCopy replays one file of a lab recording as that source's
// recording on its own (no snapshot beside it).
func replayCopy(t *testing.T, name, file, source string) []bridge.Activity {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(lab, name, file)
	dst := filepath.Join(dir, name, map[string]string{"ari": "ari.jsonl", "ami": "ami.txt"}[source])
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return replayDir(t, dir, name, source, defaultConfig(source))
}

// checkFields is checkExpected without ring and talk, whose adopted values
// depend on what the PBX reports of the past.
func checkFields(t *testing.T, source string, ws []want, acts []bridge.Activity) {
	t.Helper()
	var g, w []string
	for _, a := range acts {
		g = append(g, got(a).fields())
	}
	for _, x := range ws {
		w = append(w, x.fields())
	}
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Errorf("%s:\n got %s\nwant %s", source, strings.Join(g, "\n     "), strings.Join(w, "\n     "))
	}
}

// adoptedTimes holds adopted activities to the whole call's (ref, paired
// by user and direction): started within the tolerance of the real start
// (an adopted offer starts at the channel's creation, the whole call's at
// its ringing, a moment later) and at most late after it; answered never
// before the start nor the real answer; ended within the tolerance of the
// real end; talk never more than the real talk.
func adoptedTimes(t *testing.T, source string, acts, ref []bridge.Activity, late time.Duration) {
	t.Helper()
	const eps = 5 * time.Millisecond
	for _, a := range acts {
		var r *bridge.Activity
		for i := range ref {
			if ref[i].User == a.User && ref[i].Direction == a.Direction {
				r = &ref[i]
			}
		}
		if r == nil {
			t.Errorf("%s: %s %s has no counterpart in the whole call", source, a.User, a.Direction)
			continue
		}
		if d := a.StartedAt.Sub(r.StartedAt); d.Seconds() < -tolerance || d > late {
			t.Errorf("%s: %s started %v after the real start, want -%vs..%v", source, a.User, d, tolerance, late)
		}
		if a.AnsweredAt.IsZero() != r.AnsweredAt.IsZero() {
			t.Errorf("%s: %s answered %v, whole call %v", source, a.User, a.AnsweredAt, r.AnsweredAt)
		} else if !a.AnsweredAt.IsZero() && (a.AnsweredAt.Before(a.StartedAt) || a.AnsweredAt.Before(r.AnsweredAt.Add(-eps))) {
			t.Errorf("%s: %s answered at %v, before its start %v or the real answer %v", source, a.User, a.AnsweredAt, a.StartedAt, r.AnsweredAt)
		}
		if d := a.EndedAt.Sub(r.EndedAt); !near(d.Seconds(), 0) {
			t.Errorf("%s: %s ended %v from the real end", source, a.User, d)
		}
		if a.TalkSeconds > r.TalkSeconds+eps.Seconds() {
			t.Errorf("%s: %s talk %.3f s, more than the real %.3f s", source, a.User, a.TalkSeconds, r.TalkSeconds)
		}
	}
}
