package dialog_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/sip/dialog"
	"github.com/callbridge/callbridge/sip/internal/siptest"
	"github.com/callbridge/callbridge/sip/pcap"
)

var (
	pbx   = netip.MustParseAddrPort("10.0.0.1:5060")
	trunk = netip.MustParseAddrPort("10.0.0.9:5060")
	p101  = netip.MustParseAddrPort("10.0.0.101:5060")
	p102  = netip.MustParseAddrPort("10.0.0.102:5060")
	p103  = netip.MustParseAddrPort("10.0.0.103:5060")
)

// step is one message of a hand-written exchange.
type step struct {
	src, dst netip.AddrPort
	text     string // start line and headers; Call-ID etc. spelt out
}

func msg(startLine, callID, from, to string, cseq string, extra ...string) string {
	h := []string{startLine, "Via: SIP/2.0/UDP x;branch=z9hG4bK1", "From: " + from, "To: " + to,
		"Call-ID: " + callID, "CSeq: " + cseq}
	h = append(h, extra...)
	return strings.Join(h, "\r\n") + "\r\nContent-Length: 0\r\n\r\n"
}

func run(t *testing.T, steps []step) []string {
	t.Helper()
	tr := dialog.New(dialog.Config{PBX: []dialog.Addr{dialog.AddrOf(pbx)}, Trunks: []dialog.Trunk{{Addr: dialog.AddrOf(trunk)}}})
	var got []string
	at := time.Unix(1700000000, 0).UTC()
	out := func(ev bridge.Event) {
		s := ev.Kind.String() + " " + ev.Channel.Endpoint
		switch ev.Kind {
		case bridge.Dial:
			s += ">" + ev.Peer.Endpoint + " " + ev.DialStatus
		case bridge.HangupRequest, bridge.ChannelDestroyed:
			s += fmt.Sprintf(" %d", ev.Cause)
		case bridge.BlindTransfer:
			s += ">" + ev.Exten
		}
		got = append(got, s)
	}
	for i, s := range steps {
		at = at.Add(100 * time.Millisecond)
		if err := tr.Feed(dialog.Message{Time: at, Src: s.src, Dst: s.dst, Payload: []byte(s.text)}, out); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := tr.Flush(at.Add(time.Second), out); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestSequences(t *testing.T) {
	const (
		a = "<sip:101@pbx>;tag=a1"
		x = "<sip:+3581@trunk>;tag=x1"
	)
	invite := func(ruri, cid, from, to, cseq string, extra ...string) string {
		return msg("INVITE sip:"+ruri+"@h SIP/2.0", cid, from, to, cseq+" INVITE", extra...)
	}
	res := func(code, cid, from, to, cseq string, extra ...string) string {
		return msg("SIP/2.0 "+code, cid, from, to, cseq, extra...)
	}
	for _, tc := range []struct {
		name  string
		steps []step
		want  []string
	}{
		{
			name: "auth challenge, retransmissions, busy with reason",
			steps: []step{
				{p101, pbx, invite("102", "c1", a, "<sip:102@pbx>", "1")},
				{pbx, p101, res("407 Proxy Authentication Required", "c1", a, "<sip:102@pbx>;tag=p1", "1 INVITE")},
				{p101, pbx, invite("102", "c1", a, "<sip:102@pbx>", "2")},
				{p101, pbx, invite("102", "c1", a, "<sip:102@pbx>", "2")}, // retransmission
				{pbx, p101, res("100 Trying", "c1", a, "<sip:102@pbx>", "2 INVITE")},
				{pbx, p102, invite("102", "c2", "<sip:101@pbx>;tag=p2", "<sip:102@pbx>", "9")},
				{p102, pbx, res("180 Ringing", "c2", "<sip:101@pbx>;tag=p2", "<sip:102@pbx>;tag=b1", "9 INVITE")},
				{p102, pbx, res("180 Ringing", "c2", "<sip:101@pbx>;tag=p2", "<sip:102@pbx>;tag=b1", "9 INVITE")},
				{p102, pbx, res("486 Busy Here", "c2", "<sip:101@pbx>;tag=p2", "<sip:102@pbx>;tag=b1", "9 INVITE")},
				{pbx, p101, res("486 Busy Here", "c1", a, "<sip:102@pbx>;tag=p1", "2 INVITE", "Reason: Q.850;cause=17")},
			},
			want: []string{
				"ChannelCreated 101", "ChannelCreated 102", "Dial 101>102 ", "ChannelUpdated 101",
				"ChannelUpdated 102", "Dial 101>102 RINGING",
				"Dial 101>102 BUSY", "HangupRequest 102 17", "ChannelDestroyed 102 17",
				"HangupRequest 101 17", "ChannelDestroyed 101 17",
			},
		},
		{
			name: "outbound answered, blind transfer by REFER, target answers",
			steps: []step{
				{p101, pbx, invite("0401", "c1", a, "<sip:0401@pbx>", "1")},
				{pbx, trunk, invite("0401", "c2", "<sip:+35850@pbx>;tag=p2", "<sip:0401@trunk>", "5")},
				{pbx, p101, res("100 Trying", "c1", a, "<sip:0401@pbx>", "1 INVITE")},
				{trunk, pbx, res("200 OK", "c2", "<sip:+35850@pbx>;tag=p2", "<sip:0401@trunk>;tag=t2", "5 INVITE")},
				{pbx, p101, res("200 OK", "c1", a, "<sip:0401@pbx>;tag=p1", "1 INVITE")},
				{p101, pbx, msg("REFER sip:pbx SIP/2.0", "c1", a, "<sip:0401@pbx>;tag=p1", "2 REFER", "Refer-To: <sip:103@pbx>")},
				{pbx, p101, res("202 Accepted", "c1", a, "<sip:0401@pbx>;tag=p1", "2 REFER")},
				{pbx, p101, msg("BYE sip:101@h SIP/2.0", "c1", "<sip:0401@pbx>;tag=p1", a, "7 BYE")},
				{pbx, p103, invite("103", "c3", "<sip:0401@pbx>;tag=p3", "<sip:103@pbx>", "3")},
				{p103, pbx, res("200 OK", "c3", "<sip:0401@pbx>;tag=p3", "<sip:103@pbx>;tag=c3", "3 INVITE")},
				{trunk, pbx, msg("BYE sip:pbx SIP/2.0", "c2", "<sip:0401@trunk>;tag=t2", "<sip:+35850@pbx>;tag=p2", "6 BYE")},
			},
			want: []string{
				"ChannelCreated 101", "ChannelCreated pstn", "Dial 101>pstn ", "ChannelUpdated 101",
				"ChannelUpdated pstn", "Dial 101>pstn ANSWER", "ChannelUpdated 101",
				"BridgeEnter pstn", "BridgeEnter 101",
				"BlindTransfer 101>103", "BridgeLeave pstn",
				"HangupRequest 101 16", "BridgeLeave 101", "ChannelDestroyed 101 16",
				"ChannelCreated 103", "Dial pstn>103 ", "ChannelUpdated pstn",
				"ChannelUpdated 103", "Dial pstn>103 ANSWER", "BridgeEnter 103", "BridgeEnter pstn",
				"HangupRequest pstn 16", "BridgeLeave pstn", "ChannelDestroyed pstn 16",
				"HangupRequest 103 16", "BridgeLeave 103", "ChannelDestroyed 103 16",
			},
		},
		{
			name: "ring group: answered elsewhere, unavailable trunk",
			steps: []step{
				{trunk, pbx, invite("+35850", "c1", x, "<sip:+35850@pbx>", "1")},
				{pbx, trunk, res("100 Trying", "c1", x, "<sip:+35850@pbx>", "1 INVITE")},
				{pbx, p101, invite("101", "c2", "<sip:+3581@pbx>;tag=p2", "<sip:101@pbx>", "1")},
				{pbx, p102, invite("102", "c3", "<sip:+3581@pbx>;tag=p3", "<sip:102@pbx>", "1")},
				{p102, pbx, res("200 OK", "c3", "<sip:+3581@pbx>;tag=p3", "<sip:102@pbx>;tag=b", "1 INVITE")},
				{pbx, p101, msg("CANCEL sip:101@h SIP/2.0", "c2", "<sip:+3581@pbx>;tag=p2", "<sip:101@pbx>", "1 CANCEL",
					`Reason: SIP;cause=200;text="Call completed elsewhere"`)},
				{pbx, trunk, res("200 OK", "c1", x, "<sip:+35850@pbx>;tag=p1", "1 INVITE")},
				{pbx, trunk, msg("BYE sip:x SIP/2.0", "c1", "<sip:+35850@pbx>;tag=p1", x, "2 BYE", "Reason: Q.850;cause=16")},
				{pbx, p102, msg("BYE sip:x SIP/2.0", "c3", "<sip:+3581@pbx>;tag=p3", "<sip:102@pbx>;tag=b", "2 BYE")},
				{pbx, trunk, invite("999", "c4", "<sip:101@pbx>;tag=p4", "<sip:999@trunk>", "1")},
				{trunk, pbx, res("503 Service Unavailable", "c4", "<sip:101@pbx>;tag=p4", "<sip:999@trunk>;tag=t", "1 INVITE")},
			},
			want: []string{
				"ChannelCreated pstn", "ChannelCreated 101", "Dial pstn>101 ", "ChannelUpdated pstn",
				"ChannelCreated 102", "Dial pstn>102 ", "ChannelUpdated pstn",
				"ChannelUpdated 102", "Dial pstn>102 ANSWER",
				"Dial pstn>101 CANCEL", "HangupRequest 101 26", "ChannelDestroyed 101 26",
				"ChannelUpdated pstn", "BridgeEnter 102", "BridgeEnter pstn",
				"HangupRequest pstn 16", "BridgeLeave pstn", "ChannelDestroyed pstn 16",
				"HangupRequest 102 16", "BridgeLeave 102", "ChannelDestroyed 102 16",
				"ChannelCreated pstn", "Dial >pstn ", "Dial >pstn CONGESTION", "HangupRequest pstn 34", "ChannelDestroyed pstn 34",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, tc.steps)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	tr := dialog.New(dialog.Config{})
	for _, b := range []string{"", "hello", "INVITE sip:x SIP/2.0\r\nVia: x\r\n\r\n", "SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n"} {
		if err := tr.Feed(dialog.Message{Time: time.Unix(1, 0), Payload: []byte(b)}, func(bridge.Event) {}); err == nil {
			t.Errorf("%q: no error", b)
		}
	}
	if st := tr.Stats(); st.Malformed != 4 || st.Legs != 0 {
		t.Errorf("stats %+v", st)
	}
}

// recordedMessages returns the SIP messages of a scenario's sip.pcap.
func recordedMessages(t testing.TB, sc, file string) []dialog.Message {
	t.Helper()
	f, err := os.Open(filepath.Join(siptest.Recordings, sc, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ms []dialog.Message
	if _, err := pcap.Messages(f, func(m dialog.Message) error {
		m.Payload = bytes.Clone(m.Payload)
		ms = append(ms, m)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ms
}

// FuzzTracker feeds a recorded call with one message replaced by fuzz
// input: the tracker must neither panic nor leave a dialog open after
// Flush, whatever the message says.
func FuzzTracker(f *testing.F) {
	base := recordedMessages(f, "attended_transfer", "sip.pcap")
	for _, sc := range siptest.Scenarios {
		for _, m := range recordedMessages(f, sc, "sip.pcap") {
			f.Add(uint8(len(m.Payload)%len(base)), m.Payload)
		}
	}
	f.Fuzz(func(t *testing.T, at uint8, payload []byte) {
		tr := dialog.New(dialog.Config{})
		out := func(ev bridge.Event) {
			if ev.Time.IsZero() || (ev.Kind != bridge.Dial && ev.Channel.ID == "") {
				t.Fatalf("bad event %+v", ev)
			}
		}
		i := int(at) % len(base)
		for j, m := range base {
			if j == i {
				m.Payload = payload
			}
			_ = tr.Feed(m, out)
		}
		_ = tr.Flush(base[len(base)-1].Time, out)
		if st := tr.Stats(); st.Live != 0 {
			t.Fatalf("%d dialogs open after Flush", st.Live)
		}
	})
}
