package callinfo

import (
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

func act(dir bridge.Direction, st bridge.Outcome, r bridge.Reason) bridge.Activity {
	return bridge.Activity{ID: "x", CallID: "1.0", User: "101", UserName: "Alice", LocalNumber: "101", Direction: dir, State: st, Reason: r,
		RemoteNumber: "0401234567", RemoteE164: "+358401234567", StartedAt: time.Unix(0, 0), TalkSeconds: 2.5, RingSeconds: 1.4}
}

func TestKindAndOutcome(t *testing.T) {
	tests := []struct {
		a             bridge.Activity
		kind, outcome string
	}{
		{act(bridge.Inbound, bridge.Connected, bridge.ReasonAnswered), Incoming, "Connected"},
		{act(bridge.Outbound, bridge.Connected, bridge.ReasonTransferred), Outgoing, "Connected, transferred"},
		{act(bridge.Inbound, bridge.Missed, bridge.ReasonCancel), Missed, "Caller hung up"},
		{act(bridge.Outbound, bridge.Unaccepted, bridge.ReasonBusy), Unaccepted, "Busy"},
		{act(bridge.Outbound, bridge.Unaccepted, bridge.ReasonCancel), Unaccepted, "Cancelled"},
		{act(bridge.Inbound, bridge.Missed, ""), Missed, "Missed"},
	}
	for _, tt := range tests {
		if k := Kind(tt.a); k != tt.kind {
			t.Errorf("%s %s: kind %s, want %s", tt.a.Direction, tt.a.State, k, tt.kind)
		}
		if o := Outcome(tt.a); o != tt.outcome {
			t.Errorf("%s %s %s: outcome %q, want %q", tt.a.Direction, tt.a.State, tt.a.Reason, o, tt.outcome)
		}
	}
}

func TestSubjects(t *testing.T) {
	if err := (Subjects{Incoming: "{{.Nope}}"}).Validate("subjects."); err == nil || !strings.Contains(err.Error(), "subjects.incoming") {
		t.Errorf("Validate: %v", err)
	}
	s, err := Subjects{MissedIncoming: "Call back {{.Number}} ({{.Template}})"}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	m := &phoneindex.Candidate{Name: "Maija"}
	if got := s.Subject(act(bridge.Inbound, bridge.Connected, bridge.ReasonAnswered), m, "", 255); got != "Call from Maija" {
		t.Errorf("default subject %q", got)
	}
	if got := s.Subject(act(bridge.Inbound, bridge.Missed, bridge.ReasonCancel), nil, "VIP", 255); got != "Call back +358401234567 (VIP)" {
		t.Errorf("configured subject %q", got)
	}
	if got := s.Subject(act(bridge.Outbound, bridge.Connected, bridge.ReasonAnswered), nil, "", 10); got != "Call to +…" {
		t.Errorf("truncated subject %q", got)
	}
}

func TestDescription(t *testing.T) {
	d := Description(act(bridge.Inbound, bridge.Connected, bridge.ReasonAnswered))
	for _, want := range []string{"Incoming call, connected (answered).", "Ring 1 s, talk 3 s.", "Extension: 101", "Call id: 1.0"} {
		if !strings.Contains(d, want) {
			t.Errorf("description %q lacks %q", d, want)
		}
	}
}
