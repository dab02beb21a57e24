package ari

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/callbridge/callbridge/bridge"
)

func recordingLines(tb testing.TB) [][]byte {
	tb.Helper()
	paths, err := filepath.Glob("../testdata/recordings/*/ari.jsonl")
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no recordings: %v", err)
	}
	var lines [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, maxLine)
		for sc.Scan() {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
	}
	return lines
}

func TestDecodeRecordedEvents(t *testing.T) {
	kinds := map[bridge.Kind]int{}
	for _, l := range recordingLines(t) {
		ev, ok, err := Decode(l)
		if err != nil {
			t.Fatalf("real Asterisk event rejected: %v\n%s", err, l)
		}
		if ok {
			kinds[ev.Kind]++
			if ev.Time.IsZero() {
				t.Errorf("%v without a time", ev.Kind)
			}
		}
	}
	for _, k := range []bridge.Kind{bridge.ChannelCreated, bridge.ChannelUpdated, bridge.Dial, bridge.BridgeEnter,
		bridge.BridgeLeave, bridge.AttendedTransfer, bridge.VarSet, bridge.HangupRequest, bridge.ChannelDestroyed} {
		if kinds[k] == 0 {
			t.Errorf("no %v decoded from the recordings", k)
		}
	}
}

// The quick skip before decoding drops only what Map would drop anyway, so
// replay and the live source (which gets events ari/v5 already decoded)
// see the same events.
func TestUselessAgreesWithMap(t *testing.T) {
	skipped := 0
	for _, l := range recordingLines(t) {
		if !useless(l) {
			continue
		}
		skipped++
		e, err := ari.DecodeEvent(l)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := Map(e); ok {
			t.Errorf("skipped an event Map uses: %s", l)
		}
	}
	if skipped == 0 {
		t.Fatal("nothing skipped")
	}
}

func TestDecodeMapsFields(t *testing.T) {
	raw := `{"type":"Dial","timestamp":"2026-11-21T16:09:34.714+0000","dialstatus":"","dialstring":"101",` +
		`"caller":{"id":"1.2","name":"PJSIP/pstn-00000002","state":"Ring","caller":{"name":"","number":"+358401234567"},` +
		`"connected":{"name":"","number":""},"dialplan":{"context":"from-pstn","exten":"+35850111222","priority":2},"creationtime":"2026-11-21T16:09:34.505+0000"},` +
		`"peer":{"id":"1.3","name":"PJSIP/101-00000003","state":"Down","creationtime":"2026-11-21T16:09:34.710+0000"}}`
	ev, ok, err := Decode([]byte(raw))
	if err != nil || !ok {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	want := time.Date(2026, 11, 21, 16, 9, 34, 714e6, time.UTC)
	if ev.Kind != bridge.Dial || !ev.Time.Equal(want) || ev.Channel.ID != "1.2" || ev.Peer.ID != "1.3" ||
		ev.DialString != "101" || ev.Channel.CallerNumber != "+358401234567" || ev.Channel.Exten != "+35850111222" ||
		ev.Channel.State != bridge.StateRing || !ev.Peer.Created.Equal(time.Date(2026, 11, 21, 16, 9, 34, 710e6, time.UTC)) {
		t.Fatalf("%+v", ev)
	}
}

// A Dial ended by a forward (app_dial's do_forward, SIP 302) carries where
// the phone sent the call.
func TestDecodeForward(t *testing.T) {
	raw := `{"type":"Dial","timestamp":"2026-11-21T16:09:37.000+0000","dialstatus":"CANCEL","forward":"102",` +
		`"caller":{"id":"1.2","name":"PJSIP/pstn-00000002","state":"Ring"},"peer":{"id":"1.3","name":"PJSIP/101-00000003","state":"Ringing"},` +
		`"forwarded":{"id":"1.4","name":"Local/102@from-internal-00000001;1","state":"Down"}}`
	ev, ok, err := Decode([]byte(raw))
	if err != nil || !ok || ev.Forward != "102" || ev.DialStatus != "CANCEL" || ev.Peer.ID != "1.3" {
		t.Fatalf("ok=%v err=%v %+v", ok, err, ev)
	}
}

// A key pressed on a phone reaches the engine (a transferer's abort code
// tells who ended a consultation).
func TestDecodeDTMF(t *testing.T) {
	raw := `{"type":"ChannelDtmfReceived","timestamp":"2026-12-01T10:56:14.764+0000","digit":"*","duration_ms":100,` +
		`"channel":{"id":"1796122566.48","name":"PJSIP/101-00000026","state":"Up"}}`
	ev, ok, err := Decode([]byte(raw))
	if err != nil || !ok || ev.Kind != bridge.DTMF || ev.Value != "*" || ev.Channel.ID != "1796122566.48" {
		t.Fatalf("ok=%v err=%v %+v", ok, err, ev)
	}
}

// A channel's dialplan application reaches the engine when it marks a
// channel the PBX dialled (ari/v5's types drop app_name): for a channel
// first met in a live event that is what tells its direction.
func TestDecodeDialledApp(t *testing.T) {
	ch := func(id, app string) string {
		return `{"id":"` + id + `","name":"PJSIP/x-1","state":"Up","dialplan":{"context":"c","exten":"","priority":1,"app_name":"` + app + `","app_data":""}}`
	}
	for _, tc := range []struct {
		raw           string
		channel, peer string
	}{
		{`{"type":"ChannelStateChange","timestamp":"2026-12-01T10:59:31.299+0000","channel":` + ch("1.1", "AppDial") + `}`, "AppDial", ""},
		{`{"type":"ChannelStateChange","timestamp":"2026-12-01T10:59:31.299+0000","channel":` + ch("1.1", "Dial") + `}`, "", ""},
		{`{"type":"ChannelConnectedLine","timestamp":"2026-12-01T10:59:31.299+0000","channel":` + ch("1.1", "AppDial2") + `}`, "AppDial2", ""},
		{`{"type":"Dial","timestamp":"2026-12-01T10:59:31.300+0000","dialstatus":"ANSWER","caller":` + ch("1.0", "Dial") + `,"peer":` + ch("1.1", "AppQueue") + `}`, "", "AppQueue"},
	} {
		ev, ok, err := Decode([]byte(tc.raw))
		if err != nil || !ok || ev.Channel.App != tc.channel || ev.Peer.App != tc.peer {
			t.Errorf("%s: ok=%v err=%v app %q/%q, want %q/%q", tc.raw[:40], ok, err, ev.Channel.App, ev.Peer.App, tc.channel, tc.peer)
		}
	}
}

// The privacy mark set for inheritance (Set(__CALLBRIDGE_PRIVACY=private))
// reaches the engine; other variables do not.
func TestDecodePrivacyVariants(t *testing.T) {
	for v, want := range map[string]bool{"CALLBRIDGE_PRIVACY": true, "_CALLBRIDGE_PRIVACY": true, "__CALLBRIDGE_PRIVACY": true,
		"DIALSTATUS": true, "RTPAUDIOQOS": false, "XCALLBRIDGE_PRIVACY": false} {
		raw := `{"variable":"` + v + `","value":"private","type":"ChannelVarset","timestamp":"2026-11-21T16:09:34.611+0000",` +
			`"channel":{"id":"1.2","name":"PJSIP/101-1","state":"Ring"}}`
		ev, ok, err := Decode([]byte(raw))
		if err != nil || ok != want || (ok && ev.Var != v) {
			t.Errorf("%s: ok=%v err=%v ev=%+v, want ok=%v", v, ok, err, ev, want)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, raw := range []string{``, `{`, `[]`, `{"type":""}`, `{"no":"type"}`, `{"type":"Dial","timestamp":"yesterday"}`} {
		if _, _, err := Decode([]byte(raw)); err == nil {
			t.Errorf("%q: want an error", raw)
		}
	}
	// Unknown types are well-formed but of no use: skipped, not errors.
	if _, ok, err := Decode([]byte(`{"type":"SomethingNew","timestamp":"2026-11-21T16:09:34.714+0000"}`)); ok {
		t.Errorf("unknown type mapped (err %v)", err)
	}
}

func TestReadRecordingCountsMalformed(t *testing.T) {
	in := strings.Join([]string{
		`{"type":"ChannelCreated","timestamp":"2026-11-21T16:09:34.505+0000","channel":{"id":"1","name":"PJSIP/101-1","state":"Ring"}}`,
		`not json`,
		``,
		`{"type":"DeviceStateChanged","timestamp":"2026-11-21T16:09:34.505+0000"}`,
		`{"type":"ChannelDestroyed","timestamp":"2026-11-21T16:09:35.505+0000","channel":{"id":"1","name":"PJSIP/101-1","state":"Ring"}}`,
	}, "\n")
	var n int
	st, err := ReadRecording(strings.NewReader(in), func(bridge.Event) { n++ })
	if err != nil || st.Lines != 4 || st.Mapped != 2 || st.Skipped != 1 || st.Malformed != 1 || n != 2 || len(st.Problems) != 1 {
		t.Fatalf("%+v %v n=%d", st, err, n)
	}
}

// FuzzDecodeEngine: no input makes decoding or the engine panic, every line
// is accounted for, and the engine is empty after a flush.
func FuzzDecodeEngine(f *testing.F) {
	lines := recordingLines(f)
	for i := 0; i < len(lines); i += 7 {
		j := min(i+12, len(lines))
		f.Add(bytes.Join(lines[i:j], []byte("\n")))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		e := bridge.New(bridge.Config{Source: "ari", Trunks: []string{"pstn"}})
		var last time.Time
		st, err := ReadRecording(bytes.NewReader(in), func(ev bridge.Event) {
			last = ev.Time
			for _, tr := range e.Apply(ev) {
				if a := tr.Activity; a != nil && (a.User == "" || a.EndedAt.Before(a.StartedAt) || a.TalkSeconds < 0) {
					t.Fatalf("bad activity %+v", a)
				}
			}
		})
		if err != nil {
			return // a line beyond the scanner's limit: reported, not a panic
		}
		if st.Mapped+st.Skipped+st.Malformed != st.Lines {
			t.Fatalf("lines not accounted for: %+v", st)
		}
		e.Flush(last)
		if s := e.Stats(); s.Calls != 0 || s.Channels != 0 {
			t.Fatalf("engine holds %+v after flush", s)
		}
	})
}
