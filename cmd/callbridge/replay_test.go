package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// forwardRecording writes an ari.jsonl of a call 101's phone forwards (302)
// to 102, as Asterisk 22's app_dial do_forward reports it: the Dial to 101
// ends CANCEL with "forward", a Local channel to the target is dialled from
// the same caller, its ;2 half dials 102, who answers. No lab recording has
// a forward yet; the messages carry the fields ari/v5 decodes.
func forwardRecording(t *testing.T) string {
	t.Helper()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	ts := func(s float64) string {
		return t0.Add(time.Duration(s * float64(time.Second))).Format("2006-01-02T15:04:05.000-0700")
	}
	ch := func(id, name, state, number, exten string, s float64) map[string]any {
		return map[string]any{"id": id, "name": name, "state": state,
			"caller":       map[string]string{"name": number, "number": number},
			"connected":    map[string]string{"name": "", "number": ""},
			"dialplan":     map[string]any{"context": "from-pstn", "exten": exten, "priority": 1},
			"creationtime": ts(s), "language": "en"}
	}
	p := ch("1.1", "PJSIP/pstn-00000001", "Ring", "+358401234567", "+35850111222", 0)
	a := ch("1.2", "PJSIP/101-00000002", "Down", "101", "s", 0.01)
	l1 := ch("1.3", "Local/102@from-internal-00000001;1", "Down", "", "102", 3)
	l2 := ch("1.4", "Local/102@from-internal-00000001;2", "Ring", "+358401234567", "102", 3)
	b := ch("1.5", "PJSIP/102-00000003", "Down", "102", "s", 3.01)
	up := func(c map[string]any) map[string]any {
		d := map[string]any{}
		for k, v := range c {
			d[k] = v
		}
		d["state"] = "Up"
		return d
	}
	br := func(id string) map[string]any {
		return map[string]any{"id": id, "technology": "simple_bridge", "bridge_type": "mixing", "bridge_class": "basic", "creator": "", "channels": []string{}}
	}
	type m = map[string]any
	evs := []m{
		{"type": "ChannelCreated", "timestamp": ts(0), "channel": p},
		{"type": "ChannelCreated", "timestamp": ts(0.01), "channel": a},
		{"type": "Dial", "timestamp": ts(0.01), "caller": p, "peer": a, "dialstatus": "", "dialstring": "101"},
		{"type": "Dial", "timestamp": ts(0.02), "caller": p, "peer": a, "dialstatus": "RINGING"},
		{"type": "ChannelCreated", "timestamp": ts(3), "channel": l1},
		{"type": "ChannelCreated", "timestamp": ts(3), "channel": l2},
		{"type": "Dial", "timestamp": ts(3), "caller": p, "peer": a, "forwarded": l1, "dialstatus": "CANCEL", "forward": "102"},
		{"type": "Dial", "timestamp": ts(3), "caller": p, "peer": l1, "dialstatus": "", "dialstring": "102@from-internal"},
		{"type": "ChannelDestroyed", "timestamp": ts(3), "channel": a, "cause": 23},
		{"type": "ChannelCreated", "timestamp": ts(3.01), "channel": b},
		{"type": "Dial", "timestamp": ts(3.01), "caller": l2, "peer": b, "dialstatus": "", "dialstring": "102"},
		{"type": "Dial", "timestamp": ts(3.02), "caller": l2, "peer": b, "dialstatus": "RINGING"},
		{"type": "Dial", "timestamp": ts(6), "caller": l2, "peer": up(b), "dialstatus": "ANSWER"},
		{"type": "ChannelEnteredBridge", "timestamp": ts(6), "channel": up(b), "bridge": br("B2")},
		{"type": "ChannelEnteredBridge", "timestamp": ts(6), "channel": up(l2), "bridge": br("B2")},
		{"type": "Dial", "timestamp": ts(6), "caller": up(p), "peer": up(l1), "dialstatus": "ANSWER"},
		{"type": "ChannelEnteredBridge", "timestamp": ts(6), "channel": up(l1), "bridge": br("B1")},
		{"type": "ChannelEnteredBridge", "timestamp": ts(6), "channel": up(p), "bridge": br("B1")},
		{"type": "ChannelDestroyed", "timestamp": ts(10), "channel": up(b), "cause": 16},
		{"type": "ChannelDestroyed", "timestamp": ts(10), "channel": up(l2), "cause": 16},
		{"type": "ChannelDestroyed", "timestamp": ts(10), "channel": up(l1), "cause": 16},
		{"type": "ChannelDestroyed", "timestamp": ts(10), "channel": up(p), "cause": 16},
	}
	var sb strings.Builder
	for _, ev := range evs {
		ev["application"] = "callbridge"
		line, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(line)
		sb.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "ari.jsonl")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A user whose phone forwarded the call has no activity; --all shows it
// with the reason, and the target's names who forwarded it.
func TestReplayForwarded(t *testing.T) {
	path := forwardRecording(t)
	code, out, errOut := call(t, "replay", "--ari", path)
	if code != 0 {
		t.Fatalf("%d %s", code, errOut)
	}
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, `"user":"102"`) || !strings.Contains(out, `"forwarded_by":"101"`) {
		t.Errorf("replay: %s", out)
	}
	code, out, errOut = call(t, "replay", "--all", "--ari", path)
	if code != 0 {
		t.Fatalf("%d %s", code, errOut)
	}
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, `"reason":"forwarded"`) || !strings.Contains(out, `"not_sent":"forwarded"`) {
		t.Errorf("replay --all: %s", out)
	}
}
