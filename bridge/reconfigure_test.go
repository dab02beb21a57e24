package bridge

import "testing"

// A new directory applies to channels met after it: the call in progress
// keeps its user (once), a new user's call is theirs, a removed user's is
// no longer.
func TestReconfigure(t *testing.T) {
	e := New(Config{Source: "ari", PBX: "hq", Users: []User{{Extension: "101", Name: "Alice"}}, Trunks: []string{"pstn"}})
	var acts []Activity
	apply := func(s *script) {
		for _, ev := range s.evs {
			for _, tr := range e.Apply(ev) {
				if tr.Activity != nil {
					acts = append(acts, *tr.Activity)
				}
			}
		}
	}
	// Alice's call is answered under the old directory...
	first := newScript().
		create(0, "p", "PJSIP/pstn-1", "Ring", "+358401234567", "101").
		create(0.1, "a", "PJSIP/101-1", "Down", "101", "s").dial(0.1, "p", "a", "").
		dial(2, "p", "a", "ANSWER").enter(2, "p", "B").enter(2, "a", "B")
	apply(first)
	// ... and ends after Bob joins the directory and Alice's name changes.
	e.Reconfigure(Config{Source: "other", PBX: "other", Users: []User{{Extension: "101", Name: "Alice A."}, {Extension: "102", Name: "Bob"}}, Trunks: []string{"pstn"}})
	end := newScript()
	end.t0 = first.t0
	end.hangup(10, "p", 16).hangup(10, "a", 16)
	apply(end)
	second := newScript()
	second.t0 = first.t0
	second.create(20, "q", "PJSIP/pstn-2", "Ring", "+358401234568", "102").
		create(20.1, "b", "PJSIP/102-2", "Down", "102", "s").dial(20.1, "q", "b", "").
		dial(22, "q", "b", "ANSWER").enter(22, "q", "C").enter(22, "b", "C").
		hangup(30, "q", 16).hangup(30, "b", 16)
	apply(second)
	if len(acts) != 2 {
		t.Fatalf("%d activities: %+v", len(acts), acts)
	}
	if acts[0].User != "101" || acts[0].UserName != "Alice" || acts[0].Source != "ari" || acts[0].ID != ActivityID("hq", acts[0].CallID, "101") {
		t.Errorf("the call in progress: %+v", acts[0])
	}
	if acts[1].User != "102" || acts[1].UserName != "Bob" || acts[1].Source != "ari" {
		t.Errorf("the new user's call: %+v", acts[1])
	}
}
