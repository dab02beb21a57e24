package ami

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

func TestReader(t *testing.T) {
	long := "Event: Newchannel\r\nX: " + strings.Repeat("a", maxPacket) + "\r\n\r\n"
	for _, tc := range []struct {
		name      string
		in        string
		packets   []string // as returned, without the closing CRLF
		malformed int
		banner    string
	}{
		{"banner and login", "Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nMessage: ok\r\n\r\n",
			[]string{"Response: Success\r\nMessage: ok\r\n"}, 0, "Asterisk Call Manager/11.0.0"},
		{"bare LF", "Event: A\nB: c\n\nEvent: D\n\n", []string{"Event: A\r\nB: c\r\n", "Event: D\r\n"}, 0, ""},
		{"stray blank lines", "\r\n\r\nEvent: A\r\n\r\n\r\n", []string{"Event: A\r\n"}, 0, ""},
		{"cut off", "Event: A\r\n\r\nEvent: B\r\nChan", []string{"Event: A\r\n"}, 1, ""},
		{"cut off mid header", "Event: A\r\nB: c\r\n", nil, 1, ""},
		{"too long then good", long + "Event: B\r\n\r\n", []string{"Event: B\r\n"}, 1, ""},
		{"empty", "", nil, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tc.in))
			var got []string
			malformed := 0
			for {
				p, err := r.ReadPacket()
				if errors.Is(err, ErrMalformed) {
					malformed++
					continue
				}
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, strings.TrimSuffix(string(p), "\r\n"))
			}
			if strings.Join(got, "|") != strings.Join(tc.packets, "|") || malformed != tc.malformed {
				t.Errorf("got %q (%d malformed), want %q (%d)", got, malformed, tc.packets, tc.malformed)
			}
			if r.Banner() != tc.banner {
				t.Errorf("banner %q, want %q", r.Banner(), tc.banner)
			}
		})
	}
}

func TestReadBanner(t *testing.T) {
	if _, err := NewReader(strings.NewReader("HTTP/1.1 400 Bad Request\r\n")).ReadBanner(); !errors.Is(err, ErrMalformed) {
		t.Errorf("err %v, want ErrMalformed", err)
	}
	if b, err := NewReader(strings.NewReader("Asterisk Call Manager/11.0.0\r\n")).ReadBanner(); err != nil || b != "Asterisk Call Manager/11.0.0" {
		t.Errorf("got %q, %v", b, err)
	}
}

func TestWanted(t *testing.T) {
	for in, want := range map[string]bool{
		"Response: Success\r\n":                                             true,
		"Event: Newchannel\r\nUniqueid: 1\r\n":                              true,
		"Event: Newexten\r\nUniqueid: 1\r\n":                                false,
		"Event: CEL\r\n":                                                    false,
		"Event: VarSet\r\nChannel: x\r\nVariable: SIPDOMAIN\r\n":            false,
		"Event: VarSet\r\nChannel: x\r\nVariable: CALLBRIDGE_PRIVACY\r\n":   true,
		"Event: VarSet\r\nChannel: x\r\nVariable: __CALLBRIDGE_PRIVACY\r\n": true,
		"Event: VarSet\r\nChannel: x\r\nVariable: DIALSTATUS\r\n":           true,
		"Event: CoreShowChannel\r\n":                                        true,
	} {
		if got := wanted([]byte(in)); got != want {
			t.Errorf("wanted(%q) = %v, want %v", in, got, want)
		}
	}
}

const chanHeaders = "Channel: PJSIP/101-00000003\r\nChannelState: 5\r\nChannelStateDesc: Ringing\r\n" +
	"CallerIDNum: 101\r\nCallerIDName: Alice\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\n" +
	"Context: from-internal\r\nExten: s\r\nUniqueid: 1795277374.3\r\nLinkedid: 1795277374.2\r\n"

var alice = bridge.Channel{ID: "1795277374.3", Name: "PJSIP/101-00000003", LinkedID: "1795277374.2",
	State: bridge.StateRinging, CallerNumber: "101", CallerName: "Alice", Context: "from-internal", Exten: "s"}

func TestMap(t *testing.T) {
	ts := "Timestamp: 1795277374.710340\r\n"
	at := time.Unix(1795277374, 710340000).UTC()
	recv := time.Unix(1, 0).UTC()
	created := alice
	created.Created = at
	for _, tc := range []struct {
		name string
		in   string
		want bridge.Event
		ok   bool
		err  string
	}{
		{"Newchannel", "Event: Newchannel\r\n" + ts + chanHeaders,
			bridge.Event{Kind: bridge.ChannelCreated, Time: at, Channel: created}, true, ""},
		{"no timestamp takes receipt time", "Event: Newstate\r\n" + chanHeaders,
			bridge.Event{Kind: bridge.ChannelUpdated, Time: recv, Channel: alice}, true, ""},
		{"NewConnectedLine", "Event: NewConnectedLine\r\n" + ts + chanHeaders,
			bridge.Event{Kind: bridge.ChannelUpdated, Time: at, Channel: alice}, true, ""},
		{"DialBegin has no status", "Event: DialBegin\r\n" + ts + "DestUniqueid: 9\r\nDestChannel: PJSIP/102-1\r\nDialString: 102\r\nDialStatus: X\r\n",
			bridge.Event{Kind: bridge.Dial, Time: at, Peer: bridge.Channel{ID: "9", Name: "PJSIP/102-1"}, DialString: "102"}, true, ""},
		{"DialEnd on nobody's behalf", "Event: DialEnd\r\n" + ts + "DestUniqueid: 9\r\nDialStatus: ANSWER\r\n",
			bridge.Event{Kind: bridge.Dial, Time: at, Peer: bridge.Channel{ID: "9"}, DialStatus: "ANSWER"}, true, ""},
		// app_dial's do_forward (SIP 302): manager_channels.c adds Forward.
		{"DialEnd forwarded", "Event: DialEnd\r\n" + ts + "DestUniqueid: 9\r\nForward: 102\r\nDialStatus: CANCEL\r\n",
			bridge.Event{Kind: bridge.Dial, Time: at, Peer: bridge.Channel{ID: "9"}, DialStatus: "CANCEL", Forward: "102"}, true, ""},
		{"Dial without peer", "Event: DialState\r\n" + ts + chanHeaders, bridge.Event{}, false, "no DestUniqueid"},
		{"BridgeEnter", "Event: BridgeEnter\r\n" + ts + "BridgeUniqueid: b1\r\nBridgeType: basic\r\nBridgeCreator: <unknown>\r\n" + chanHeaders,
			bridge.Event{Kind: bridge.BridgeEnter, Time: at, Channel: alice, Bridge: "b1"}, true, ""},
		{"ConfBridge", "Event: BridgeLeave\r\n" + ts + "BridgeUniqueid: b1\r\nBridgeType: basic\r\nBridgeCreator: ConfBridge\r\n" + chanHeaders,
			bridge.Event{Kind: bridge.BridgeLeave, Time: at, Channel: alice, Bridge: "b1", Conference: true}, true, ""},
		{"Stasis bridge", "Event: BridgeEnter\r\n" + ts + "BridgeUniqueid: b1\r\nBridgeType: stasis\r\n" + chanHeaders,
			bridge.Event{Kind: bridge.BridgeEnter, Time: at, Channel: alice, Bridge: "b1", Conference: true}, true, ""},
		{"Bridge without id", "Event: BridgeEnter\r\n" + ts + chanHeaders, bridge.Event{}, false, "no BridgeUniqueid"},
		{"BlindTransfer", "Event: BlindTransfer\r\n" + ts + "Result: Success\r\nTransfererUniqueid: 3\r\nTransfererChannel: PJSIP/101-1\r\nTransfereeUniqueid: 2\r\nContext: from-internal\r\nExtension: 103\r\n",
			bridge.Event{Kind: bridge.BlindTransfer, Time: at, Channel: bridge.Channel{ID: "3", Name: "PJSIP/101-1"}, Peer: bridge.Channel{ID: "2"}, Exten: "103", Context: "from-internal"}, true, ""},
		{"failed transfer", "Event: BlindTransfer\r\n" + ts + "Result: Fail\r\nTransfererUniqueid: 3\r\n", bridge.Event{}, false, ""},
		{"AttendedTransfer", "Event: AttendedTransfer\r\n" + ts + "Result: Success\r\nOrigTransfererUniqueid: 8\r\nSecondTransfererUniqueid: 12\r\nTransfereeUniqueid: 7\r\nTransferTargetUniqueid: 9\r\n",
			bridge.Event{Kind: bridge.AttendedTransfer, Time: at, Channel: bridge.Channel{ID: "8"}, Peer: bridge.Channel{ID: "7"}, Second: "12", Target: "9"}, true, ""},
		// A transferer's keys during a consultation (the abort code):
		// only what the device sent.
		{"DTMF received", "Event: DTMFEnd\r\n" + ts + chanHeaders + "Digit: *\r\nDurationMs: 100\r\nDirection: Received\r\n",
			bridge.Event{Kind: bridge.DTMF, Time: at, Channel: alice, Value: "*"}, true, ""},
		{"DTMF sent", "Event: DTMFEnd\r\n" + ts + chanHeaders + "Digit: *\r\nDurationMs: 100\r\nDirection: Sent\r\n",
			bridge.Event{}, false, ""},
		{"privacy", "Event: VarSet\r\n" + ts + chanHeaders + "Variable: CALLBRIDGE_PRIVACY\r\nValue: private\r\n",
			bridge.Event{Kind: bridge.VarSet, Time: at, Channel: alice, Var: bridge.PrivacyVar, Value: "private"}, true, ""},
		{"privacy, inherited", "Event: VarSet\r\n" + ts + chanHeaders + "Variable: __CALLBRIDGE_PRIVACY\r\nValue: private\r\n",
			bridge.Event{Kind: bridge.VarSet, Time: at, Channel: alice, Var: "__" + bridge.PrivacyVar, Value: "private"}, true, ""},
		{"other variable", "Event: VarSet\r\n" + ts + chanHeaders + "Variable: SIPDOMAIN\r\nValue: x\r\n", bridge.Event{}, false, ""},
		{"SoftHangupRequest", "Event: SoftHangupRequest\r\n" + ts + chanHeaders + "Cause: 16\r\n",
			bridge.Event{Kind: bridge.HangupRequest, Time: at, Channel: alice, Cause: 16}, true, ""},
		{"Hangup", "Event: Hangup\r\n" + ts + chanHeaders + "Cause: 17\r\nCause-txt: User busy\r\n",
			bridge.Event{Kind: bridge.ChannelDestroyed, Time: at, Channel: alice, Cause: 17}, true, ""},
		{"bad cause", "Event: Hangup\r\n" + ts + chanHeaders + "Cause: many\r\n", bridge.Event{}, false, "bad Cause"},
		{"bad timestamp", "Event: Hangup\r\nTimestamp: yesterday\r\n" + chanHeaders, bridge.Event{}, false, "bad Timestamp"},
		{"no uniqueid", "Event: Newchannel\r\n" + ts + "Channel: PJSIP/1\r\n", bridge.Event{}, false, "no channel Uniqueid"},
		{"ignored event", "Event: LocalBridge\r\n" + ts + "LocalOneChannel: x\r\n", bridge.Event{}, false, ""},
		{"response", "Response: Success\r\nMessage: ok\r\n", bridge.Event{}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parse([]byte(tc.in + "\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			got, ok, err := Map(m, recv)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || ok != tc.ok {
				t.Fatalf("ok %v err %v, want ok %v", ok, err, tc.ok)
			}
			if ok && !eventEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func eventEqual(a, b bridge.Event) bool {
	return a.Kind == b.Kind && a.Time.Equal(b.Time) && a.Channel == b.Channel && a.Peer == b.Peer &&
		a.DialStatus == b.DialStatus && a.DialString == b.DialString && a.Bridge == b.Bridge &&
		a.Conference == b.Conference && a.Second == b.Second && a.Target == b.Target && a.Exten == b.Exten &&
		a.Context == b.Context && a.Var == b.Var && a.Value == b.Value && a.Cause == b.Cause
}

func TestParseTimestamp(t *testing.T) {
	for in, want := range map[string]time.Time{
		"1795277374.515122": time.Unix(1795277374, 515122000),
		"1795277374":        time.Unix(1795277374, 0),
		"1795277374.5":      time.Unix(1795277374, 500000000),
	} {
		got, err := parseTimestamp(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1.5", "1.x", "1.1234567890", "1.-5"} {
		if _, err := parseTimestamp(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParseDuration(t *testing.T) {
	if d, ok := parseDuration("01:02:03"); !ok || d != time.Hour+2*time.Minute+3*time.Second {
		t.Errorf("got %v %v", d, ok)
	}
	for _, bad := range []string{"", "1:2", "a:b:c", "-1:00:00"} {
		if _, ok := parseDuration(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
