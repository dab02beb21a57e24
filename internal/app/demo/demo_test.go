package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/callbridge/callbridge/bridge"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The demo goes through the real websocket, source, engine and pipeline and
// shows the same activities the golden tests expect, one row each.
func TestDemoShowsEveryCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	var got []bridge.Activity
	err := Run(ctx, &out, Options{Speed: 0, All: true, OnActivity: func(a bridge.Activity) { got = append(got, a) }})
	if err != nil {
		t.Fatal(err)
	}
	// 10 recordings: 14 activities, two of them answered elsewhere.
	if len(got) != 14 {
		t.Fatalf("%d activities, want 14:\n%s", len(got), out.String())
	}
	for _, want := range []string{
		"inbound_answered       101 Alice    inbound   connected   answered            +358401234567",
		"ring_group             101 Alice    inbound   missed      answered_elsewhere",
		"attended_transfer      102 Bob      inbound   connected   answered            +358401234567",
		"transferred by 101",
		"outbound_answered      101 Alice    outbound  unaccepted",
		"14 activities.",
	} {
		if want == "outbound_answered      101 Alice    outbound  unaccepted" {
			if strings.Contains(out.String(), want) {
				t.Errorf("outbound_answered shown as unaccepted:\n%s", out.String())
			}
			continue
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, a := range got {
		if !a.Internal && a.RemoteE164 == "" {
			t.Errorf("%s/%s: no E.164 for %q", a.CallID, a.User, a.RemoteNumber)
		}
	}
}

// By default the demo hides the answered-elsewhere legs, and delivers what
// the policy accepts to its local webhook.
func TestDemoHidesAnsweredElsewhereAndDelivers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := Run(ctx, &out, Options{Speed: 0, Deliver: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "answered_elsewhere") || !strings.Contains(out.String(), "12 activities; 2 ring-group/queue members") {
		t.Fatalf("%s", out.String())
	}
	// The same 12 went through the policy and the queue to the webhook.
	if !strings.Contains(out.String(), "12 of 12 activities accepted by the policy arrived, each once.") ||
		strings.Count(out.String(), "  ✓ ") != 12 {
		t.Fatalf("delivery summary missing or wrong:\n%s", out.String())
	}
}

// --crm: the same 12 reach each preset's strict fake, owned by the users
// mapped by e-mail and, for calls from the known caller, on her record.
func TestDemoDeliversToEveryPreset(t *testing.T) {
	for _, name := range CRMs {
		if name == "webhook" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var out bytes.Buffer
			if err := Run(ctx, &out, Options{Speed: 0, Deliver: true, CRM: name}); err != nil {
				t.Fatal(err)
			}
			s := out.String()
			if !strings.Contains(s, "12 of 12 activities accepted by the policy are in the CRM.") || strings.Count(s, "  ✓ ") != 12 {
				t.Fatalf("delivery summary missing or wrong:\n%s", s)
			}
			if !strings.Contains(s, "Maija Meikäläinen") || !strings.Contains(s, "=Alice") || !strings.Contains(s, "=Bob") {
				t.Errorf("no owner or caller record shown:\n%s", s)
			}
		})
	}
	if _, err := newPreset("sugarcrm"); err == nil {
		t.Error("unknown preset accepted")
	}
}

// --live shows each agent's caller card as it is told: the card opens
// when the phone rings and closes on answer, a losing ring-group member's
// card ends without closing, a call Alice dials on her phone opens none.
func TestDemoLiveShowsCards(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := Run(ctx, &out, Options{Speed: 0, Live: true}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"101 Alice  offer      inbound call, Maija Meikäläinen +358401234567, line Support\n",
		"101 Alice  open       the card opens: https://crm.example.com/contacts/c-1 · Search the web\n",
		"101 Alice  close      the card closes\n",
		"102 Bob    offer      inbound call, Maija Meikäläinen +358401234567, line Sales\n",
		"101 Alice  offer      outbound call, Maija Meikäläinen +358401234567\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// outbound_answered: offer, connected, ended, and no open.
	i := strings.Index(s, "101 Alice  offer      outbound call")
	j := strings.Index(s, "outbound_answered")
	if i < 0 || j < i || strings.Contains(s[i:j], "open ") {
		t.Errorf("a call dialled on the phone opened the card:\n%s", s)
	}
}
