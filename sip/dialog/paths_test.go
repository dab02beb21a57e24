package dialog_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/sip/dialog"
	"github.com/callbridge/callbridge/sip/internal/siptest"
)

// The exchanges below are written the way Asterisk 22 puts them on the
// wire (the shared recordings and the lab's own, testdata/lab in the lab
// branch, show each of them), trimmed to the headers the tracker reads.

const (
	ext  = `"+358401234567" <sip:+358401234567@trunk>;tag=x1`
	pbxX = `"+358401234567" <sip:+358401234567@pbx>`
)

func inv(ruri, cid, from, to, cseq string, extra ...string) string {
	return msg("INVITE sip:"+ruri+"@h SIP/2.0", cid, from, to, cseq+" INVITE", extra...)
}

func res(code, cid, from, to, cseq string, extra ...string) string {
	return msg("SIP/2.0 "+code, cid, from, to, cseq, extra...)
}

func req(method, cid, from, to, cseq string, extra ...string) string {
	return msg(method+" sip:x@h SIP/2.0", cid, from, to, cseq+" "+method, extra...)
}

// activities runs an exchange through a tracker (cfg, with the PBX and
// trunk of the step addresses unless cfg says otherwise) and the engine,
// 100 ms between messages, and returns one line per activity:
// "user direction state reason remote [tb=…]".
func activities(t *testing.T, cfg dialog.Config, steps []step) []string {
	t.Helper()
	if cfg.PBX == nil {
		cfg.PBX = []dialog.Addr{dialog.AddrOf(pbx)}
	}
	if cfg.Trunks == nil {
		cfg.Trunks = []dialog.Trunk{{Addr: dialog.AddrOf(trunk)}}
	}
	tr := dialog.New(cfg)
	at := time.Unix(1700000000, 0).UTC()
	acts, err := siptest.Activities(siptest.SIPConfig, func(fn func(bridge.Event)) error {
		for i, s := range steps {
			at = at.Add(100 * time.Millisecond)
			if err := tr.Feed(dialog.Message{Time: at, Src: s.src, Dst: s.dst, Payload: []byte(s.text)}, fn); err != nil {
				return fmt.Errorf("step %d: %w", i, err)
			}
		}
		return tr.Flush(at.Add(time.Second), fn)
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range acts {
		s := fmt.Sprintf("%s %s %s %s %s", a.User, a.Direction, a.State, a.Reason, a.RemoteNumber)
		if a.TransferredBy != "" {
			s += " tb=" + a.TransferredBy
		}
		out = append(out, s)
	}
	return out
}

func check(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("activities:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestFarEndReasons: 101 dials out, the far end fails, and the PBX fails
// 101's own leg with a generic 480 (the lab's dialplan hangs up with a
// cause of its choosing): the reason is the far end's.
func TestFarEndReasons(t *testing.T) {
	const a = "<sip:101@pbx>;tag=a1"
	for code, want := range map[string]string{
		"486 Busy Here": "busy", "600 Busy Everywhere": "busy", "603 Decline": "rejected",
		"404 Not Found": "failed", "484 Address Incomplete": "failed", "604 Does Not Exist Anywhere": "failed",
		"480 Temporarily Unavailable": "noanswer", "408 Request Timeout": "noanswer", "503 Service Unavailable": "failed",
	} {
		t.Run(code, func(t *testing.T) {
			got := activities(t, dialog.Config{}, []step{
				{p101, pbx, inv("0401", "c1", a, "<sip:0401@pbx>", "1")},
				{pbx, p101, res("100 Trying", "c1", a, "<sip:0401@pbx>", "1 INVITE")},
				{pbx, trunk, inv("0401", "c2", `<sip:+35850@pbx>;tag=p2`, "<sip:0401@trunk>", "5")},
				{trunk, pbx, res("180 Ringing", "c2", `<sip:+35850@pbx>;tag=p2`, "<sip:0401@trunk>;tag=t2", "5 INVITE")},
				{pbx, p101, res("180 Ringing", "c1", a, "<sip:0401@pbx>;tag=p1", "1 INVITE")},
				{trunk, pbx, res(code, "c2", `<sip:+35850@pbx>;tag=p2`, "<sip:0401@trunk>;tag=t2", "5 INVITE")},
				{pbx, p101, res("480 Temporarily Unavailable", "c1", a, "<sip:0401@pbx>;tag=p1", "1 INVITE", "Reason: Q.850;cause=20")},
			})
			check(t, got, "101 outbound unaccepted "+want+" 0401")
		})
	}
}

// TestRingTimeoutOrCancel: the PBX cancelling the phone while the caller
// is still there is the dial timeout (noanswer); after the caller's own
// CANCEL it is the caller giving up (cancel), whatever the Reason says.
func TestRingTimeoutOrCancel(t *testing.T) {
	ring := []step{
		{trunk, pbx, inv("+35850111555", "c1", ext, "<sip:+35850111555@pbx>", "1")},
		{pbx, p101, inv("101", "c2", pbxX+";tag=p2", "<sip:101@pbx>", "7")},
		{p101, pbx, res("180 Ringing", "c2", pbxX+";tag=p2", "<sip:101@pbx>;tag=b2", "7 INVITE")},
		{pbx, trunk, res("180 Ringing", "c1", ext, "<sip:+35850111555@pbx>;tag=p1", "1 INVITE")},
	}
	timeout := append(append([]step(nil), ring...),
		step{pbx, p101, req("CANCEL", "c2", pbxX+";tag=p2", "<sip:101@pbx>", "7", "Reason: Q.850;cause=0")},
		step{pbx, trunk, res("480 Temporarily Unavailable", "c1", ext, "<sip:+35850111555@pbx>;tag=p1", "1 INVITE")},
		step{p101, pbx, res("487 Request Terminated", "c2", pbxX+";tag=p2", "<sip:101@pbx>;tag=b2", "7 INVITE")})
	check(t, activities(t, dialog.Config{}, timeout), "101 inbound missed noanswer +358401234567")
	gaveUp := append(append([]step(nil), ring...),
		step{trunk, pbx, req("CANCEL", "c1", ext, "<sip:+35850111555@pbx>", "1")},
		step{pbx, trunk, res("487 Request Terminated", "c1", ext, "<sip:+35850111555@pbx>;tag=p1", "1 INVITE")},
		step{pbx, p101, req("CANCEL", "c2", pbxX+";tag=p2", "<sip:101@pbx>", "7", "Reason: Q.850;cause=127")},
		step{p101, pbx, res("487 Request Terminated", "c2", pbxX+";tag=p2", "<sip:101@pbx>;tag=b2", "7 INVITE")})
	check(t, activities(t, dialog.Config{}, gaveUp), "101 inbound missed cancel +358401234567")
	// A phone that never answers anything cannot be cancelled: it ends
	// when the PBX fails the caller.
	silent := []step{
		{trunk, pbx, inv("+35850111503", "c1", ext, "<sip:+35850111503@pbx>", "1")},
		{pbx, p103, inv("103", "c2", pbxX+";tag=p2", "<sip:103@pbx>", "7")},
		{pbx, p103, inv("103", "c2", pbxX+";tag=p2", "<sip:103@pbx>", "7")},
		{pbx, trunk, res("480 Temporarily Unavailable", "c1", ext, "<sip:+35850111503@pbx>;tag=p1", "1 INVITE")},
		{pbx, p103, inv("103", "c2", pbxX+";tag=p2", "<sip:103@pbx>", "7")},
	}
	check(t, activities(t, dialog.Config{}, silent), "103 inbound missed noanswer +358401234567")
}

// TestPickupAndPark: a phone that dials the pickup code, or a parked
// call's slot, is answered by the PBX and then handed the caller: an
// inbound call from the original caller (transferred_by the parker).
func TestPickupAndPark(t *testing.T) {
	const b = `"Bob" <sip:102@pbx>;tag=b1`
	pickup := []step{
		{trunk, pbx, inv("+35850111222", "c1", ext, "<sip:+35850111222@pbx>", "1")},
		{pbx, p101, inv("101", "c2", pbxX+";tag=p2", "<sip:101@pbx>", "7")},
		{p101, pbx, res("180 Ringing", "c2", pbxX+";tag=p2", "<sip:101@pbx>;tag=a2", "7 INVITE")},
		{p102, pbx, inv("*8", "c3", b, "<sip:*8@pbx>", "1")},
		{pbx, p102, res("200 OK", "c3", b, "<sip:*8@pbx>;tag=p3", "1 INVITE", `P-Asserted-Identity: "+358401234567" <sip:+358401234567@pbx>`)},
		{pbx, p101, req("CANCEL", "c2", pbxX+";tag=p2", "<sip:101@pbx>", "7", "Reason: Q.850;cause=16")},
		{pbx, trunk, res("200 OK", "c1", ext, "<sip:+35850111222@pbx>;tag=p1", "1 INVITE")},
		{pbx, p102, inv("102", "c3", "<sip:*8@pbx>;tag=p3", b, "9", `P-Asserted-Identity: "+358401234567" <sip:+358401234567@pbx>`)},
		{p102, pbx, req("BYE", "c3", b, "<sip:*8@pbx>;tag=p3", "2")},
		{pbx, trunk, req("BYE", "c1", "<sip:+35850111222@pbx>;tag=p1", ext, "3")},
	}
	check(t, activities(t, dialog.Config{}, pickup),
		"101 inbound missed answered_elsewhere +358401234567", "102 inbound connected answered +358401234567")

	const a = "<sip:101@pbx>;tag=a2"
	answered := []step{
		{trunk, pbx, inv("+35850111222", "c1", ext, "<sip:+35850111222@pbx>", "1")},
		{pbx, p101, inv("101", "c2", pbxX+";tag=p2", "<sip:101@pbx>", "7")},
		{p101, pbx, res("200 OK", "c2", pbxX+";tag=p2", a, "7 INVITE")},
		{pbx, trunk, res("200 OK", "c1", ext, "<sip:+35850111222@pbx>;tag=p1", "1 INVITE")},
		{p101, pbx, req("REFER", "c2", a, pbxX+";tag=p2", "2", "Refer-To: <sip:700@pbx>")},
		{pbx, p101, res("202 Accepted", "c2", a, pbxX+";tag=p2", "2 REFER")},
		{p101, pbx, req("BYE", "c2", a, pbxX+";tag=p2", "3")},
	}
	retrieved := append(append([]step(nil), answered...),
		step{p102, pbx, inv("701", "c3", b, "<sip:701@pbx>", "1")},
		step{pbx, p102, res("200 OK", "c3", b, "<sip:701@pbx>;tag=p3", "1 INVITE")},
		step{pbx, p102, inv("102", "c3", "<sip:701@pbx>;tag=p3", b, "9", `P-Asserted-Identity: "+358401234567" <sip:+358401234567@pbx>`)},
		step{p102, pbx, req("BYE", "c3", b, "<sip:701@pbx>;tag=p3", "2")},
		step{pbx, trunk, req("BYE", "c1", "<sip:+35850111222@pbx>;tag=p1", ext, "3")})
	check(t, activities(t, dialog.Config{}, retrieved),
		"101 inbound connected transferred +358401234567", "102 inbound connected answered +358401234567 tb=101")
	// Nobody retrieves it: the parking lot times out and rings the parker
	// again, presenting the parked caller, who hangs up unanswered.
	callback := append(append([]step(nil), answered...),
		step{pbx, p101, inv("101", "c4", pbxX+";tag=p4", "<sip:101@pbx>", "3")},
		step{p101, pbx, res("180 Ringing", "c4", pbxX+";tag=p4", "<sip:101@pbx>;tag=a4", "3 INVITE")},
		step{trunk, pbx, req("BYE", "c1", ext, "<sip:+35850111222@pbx>;tag=p1", "2")},
		step{pbx, p101, req("CANCEL", "c4", pbxX+";tag=p4", "<sip:101@pbx>", "3")})
	check(t, activities(t, dialog.Config{}, callback), "101 inbound connected transferred +358401234567")
}

// TestOriginate: the PBX rings 101's phone on nobody's behalf (a CRM's
// click-to-dial), 101 answers, the PBX dials the number it showed her:
// her outbound call.
func TestOriginate(t *testing.T) {
	const crm = `"CRM: 0401234567" <sip:0401234567@pbx>`
	got := activities(t, dialog.Config{}, []step{
		{pbx, p101, inv("101", "c1", crm+";tag=p1", "<sip:101@pbx>", "3", "P-Asserted-Identity: "+crm)},
		{p101, pbx, res("180 Ringing", "c1", crm+";tag=p1", "<sip:101@pbx>;tag=a1", "3 INVITE")},
		{p101, pbx, res("200 OK", "c1", crm+";tag=p1", "<sip:101@pbx>;tag=a1", "3 INVITE")},
		{pbx, trunk, inv("0401234567", "c2", `"CRM: 0401234567" <sip:+35850111222@pbx>;tag=p2`, "<sip:0401234567@trunk>", "5")},
		{trunk, pbx, res("200 OK", "c2", `"CRM: 0401234567" <sip:+35850111222@pbx>;tag=p2`, "<sip:0401234567@trunk>;tag=t2", "5 INVITE")},
		{trunk, pbx, req("BYE", "c2", "<sip:0401234567@trunk>;tag=t2", `<sip:+35850111222@pbx>;tag=p2`, "6")},
		{pbx, p101, req("BYE", "c1", crm+";tag=p1", "<sip:101@pbx>;tag=a1", "4")},
	})
	check(t, got, "101 outbound connected answered 0401234567")
}

// TestConferenceRoom: with the room's numbers configured, 101 alone in
// the room never connects; once an external caller joins, 101 is
// connected from that answer (the caller, routed straight in, gets
// nothing).
func TestConferenceRoom(t *testing.T) {
	cfg := dialog.Config{Conferences: map[string]string{"800": "800", "+35850111800": "800"}}
	const a = `"Alice" <sip:101@pbx>;tag=a1`
	alone := []step{
		{p101, pbx, inv("800", "c1", a, "<sip:800@pbx>", "1")},
		{pbx, p101, res("200 OK", "c1", a, "<sip:800@pbx>;tag=p1", "1 INVITE")},
		{p101, pbx, req("BYE", "c1", a, "<sip:800@pbx>;tag=p1", "2")},
	}
	got := activities(t, cfg, alone)
	if len(got) != 1 || strings.Contains(got[0], "connected") {
		t.Errorf("alone in the room: %v", got)
	}
	joined := []step{
		alone[0], alone[1],
		{trunk, pbx, inv("+35850111800", "c2", ext, "<sip:+35850111800@pbx>", "1")},
		{pbx, trunk, res("200 OK", "c2", ext, "<sip:+35850111800@pbx>;tag=p2", "1 INVITE")},
		alone[2],
		{trunk, pbx, req("BYE", "c2", ext, "<sip:+35850111800@pbx>;tag=p2", "2")},
	}
	got = activities(t, cfg, joined)
	if len(got) != 1 || !strings.HasPrefix(got[0], "101 outbound connected answered 800") {
		t.Errorf("with a caller in the room: %v", got)
	}
}

// TestForward302: 101's phone answers 302 naming 103; the Dial to 101
// ends CANCEL with the forward's target (the Contact), as Asterisk's Dial
// reports it, and the PBX's INVITE to 103 (Diversion: 101) is dialled for
// the same caller.
func TestForward302(t *testing.T) {
	tr := dialog.New(dialog.Config{PBX: []dialog.Addr{dialog.AddrOf(pbx)}, Trunks: []dialog.Trunk{{Addr: dialog.AddrOf(trunk)}}})
	var dials []bridge.Event
	at := time.Unix(1700000000, 0).UTC()
	for i, s := range []step{
		{trunk, pbx, inv("+35850111222", "c1", ext, "<sip:+35850111222@pbx>", "1")},
		{pbx, p101, inv("101", "c2", pbxX+";tag=p2", "<sip:101@pbx>", "7")},
		{p101, pbx, res("302 Moved Temporarily", "c2", pbxX+";tag=p2", "<sip:101@pbx>;tag=a2", "7 INVITE", "Contact: <sip:103@pbx>")},
		{pbx, p103, inv("103", "c3", pbxX+";tag=p3", "<sip:103@pbx>", "4", "Diversion: <sip:101@pbx>;reason=unconditional")},
	} {
		at = at.Add(100 * time.Millisecond)
		if err := tr.Feed(dialog.Message{Time: at, Src: s.src, Dst: s.dst, Payload: []byte(s.text)}, func(ev bridge.Event) {
			if ev.Kind == bridge.Dial {
				dials = append(dials, ev)
			}
		}); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	var got []string
	for _, d := range dials {
		got = append(got, fmt.Sprintf("%s>%s %s fwd=%s", d.Channel.Endpoint, d.Peer.Endpoint, d.DialStatus, d.Forward))
	}
	want := []string{"pstn>101  fwd=", "pstn>101 CANCEL fwd=103", "pstn>103  fwd="}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("dials:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLearnsPBX: with nothing configured, the PBX is the party to most
// INVITE dialogs even when the first INVITE is the PBX calling a phone;
// a single dialog is settled by the end that names itself a PBX, and
// without one the tracker says which keys to set.
func TestLearnsPBX(t *testing.T) {
	const crm = `"CRM" <sip:0401@pbx>`
	feed := func(steps []step) (*dialog.Tracker, error) {
		tr := dialog.New(dialog.Config{})
		at := time.Unix(1700000000, 0).UTC()
		for _, s := range steps {
			at = at.Add(100 * time.Millisecond)
			if err := tr.Feed(dialog.Message{Time: at, Src: s.src, Dst: s.dst, Payload: []byte(s.text)}, func(bridge.Event) {}); err != nil {
				return tr, err
			}
		}
		return tr, tr.Flush(at, func(bridge.Event) {})
	}
	tr, err := feed([]step{
		{pbx, p101, inv("101", "c1", crm+";tag=p1", "<sip:101@pbx>", "3")},
		{p101, pbx, res("200 OK", "c1", crm+";tag=p1", "<sip:101@pbx>;tag=a1", "3 INVITE")},
		{pbx, trunk, inv("0401", "c2", "<sip:+35850@pbx>;tag=p2", "<sip:0401@trunk>", "5")},
	})
	if err != nil || len(tr.PBX()) != 1 || tr.PBX()[0] != dialog.AddrOf(pbx) {
		t.Errorf("originate first: PBX %v, %v", tr.PBX(), err)
	}
	one := []step{{p101, pbx, inv("800", "c1", "<sip:101@pbx>;tag=a1", "<sip:800@pbx>", "1")}}
	if _, err := feed(one); err == nil || !strings.Contains(err.Error(), "sip.pbx_addresses") {
		t.Errorf("one dialog, nobody named: %v", err)
	}
	named := append(one, step{pbx, p101, res("200 OK", "c1", "<sip:101@pbx>;tag=a1", "<sip:800@pbx>;tag=p1", "1 INVITE", "Server: Asterisk PBX 22.10.1")})
	if tr, err := feed(named); err != nil || tr.PBX()[0] != dialog.AddrOf(pbx) {
		t.Errorf("one dialog, the PBX named: %v %v", tr.PBX(), err)
	}
	// A carrier that presents a number that is not a user is a trunk
	// from then on, even for a caller that looks like an extension.
	tr, _ = feed([]step{
		{trunk, pbx, inv("+35850", "c1", ext, "<sip:+35850@pbx>", "1")},
		{pbx, p101, inv("101", "c2", pbxX+";tag=p2", "<sip:101@pbx>", "7")},
	})
	if ts := tr.Trunks(); len(ts) != 1 || ts[0].Addr != dialog.AddrOf(trunk) {
		t.Errorf("trunks %v", ts)
	}
}
