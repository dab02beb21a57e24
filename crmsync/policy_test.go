package crmsync_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/bolt"
	"github.com/callbridge/callbridge/crmsync/store/storetest"
)

func newStore(t *testing.T) crmsync.Store {
	s, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ptr[T any](v T) *T { return &v }

func TestDecide(t *testing.T) {
	base := storetest.Activity
	mod := func(id string, f func(*bridge.Activity)) bridge.Activity {
		a := base(id)
		f(&a)
		return a
	}
	tests := []struct {
		name   string
		cfg    func(*crmsync.PolicyConfig)
		a      bridge.Activity
		reason string // "" = accepted
	}{
		{"work call", nil, base("w"), ""},
		{"unmarked is work", nil, mod("u", func(a *bridge.Activity) { a.Privacy = "" }), ""},
		{"private", nil, mod("p", func(a *bridge.Activity) { a.Privacy = bridge.PrivacyPrivate }), crmsync.DropPrivacy},
		{"unclassified", nil, mod("p", func(a *bridge.Activity) { a.Privacy = bridge.PrivacyUnclassified }), crmsync.DropPrivacy},
		{"unknown privacy class", nil, mod("p", func(a *bridge.Activity) { a.Privacy = "secret" }), crmsync.DropPrivacy},
		{"privacy case-insensitive", nil, mod("p", func(a *bridge.Activity) { a.Privacy = " Work " }), ""},
		{"no id", nil, mod("", func(a *bridge.Activity) {}), crmsync.DropInvalid},
		{"internal on by default", nil, mod("i", func(a *bridge.Activity) { a.Internal = true }), ""},
		{"internal off", func(c *crmsync.PolicyConfig) { c.SyncInternal = false }, mod("i", func(a *bridge.Activity) { a.Internal = true }), crmsync.DropInternal},
		{"answered elsewhere dropped", nil, mod("ae", func(a *bridge.Activity) {
			a.State, a.Reason = bridge.Missed, bridge.ReasonAnsweredElsewhere
		}), crmsync.DropAnsweredElsewhere},
		{"answered elsewhere synced when on", func(c *crmsync.PolicyConfig) { c.SyncAnsweredElsewhere = true }, mod("ae", func(a *bridge.Activity) {
			a.State, a.Reason = bridge.Missed, bridge.ReasonAnsweredElsewhere
		}), ""},
		{"duration limit 0 syncs all", nil, mod("d", func(a *bridge.Activity) { a.TalkSeconds = 0 }), ""},
		{"talk below limit", func(c *crmsync.PolicyConfig) { c.DurationLimit = 5 * time.Second }, mod("d", func(a *bridge.Activity) { a.TalkSeconds = 4.999 }), crmsync.DropDurationLimit},
		{"talk exactly the limit", func(c *crmsync.PolicyConfig) { c.DurationLimit = 5 * time.Second }, mod("d", func(a *bridge.Activity) { a.TalkSeconds = 5 }), ""},
		{"missed call ignores the limit", func(c *crmsync.PolicyConfig) { c.DurationLimit = 5 * time.Second }, mod("d", func(a *bridge.Activity) {
			a.State, a.Reason, a.TalkSeconds = bridge.Missed, bridge.ReasonCancel, 0
		}), ""},
		{"crm inactive by default setting", func(c *crmsync.PolicyConfig) { c.Defaults.CRMActive = ptr(false) }, base("c"), crmsync.DropCRMInactive},
		{"crm inactive for the user", func(c *crmsync.PolicyConfig) {
			c.Users = map[string]crmsync.UserSettings{"101": {CRMActive: ptr(false)}}
		}, base("c"), crmsync.DropCRMInactive},
		{"user override re-enables", func(c *crmsync.PolicyConfig) {
			c.Defaults.CRMActive = ptr(false)
			c.Users = map[string]crmsync.UserSettings{"101": {CRMActive: ptr(true)}}
		}, base("c"), ""},
		{"privacy wins over everything", func(c *crmsync.PolicyConfig) { c.SyncInternal = false }, mod("x", func(a *bridge.Activity) {
			a.Privacy, a.Internal = bridge.PrivacyPrivate, true
		}), crmsync.DropPrivacy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := crmsync.DefaultPolicyConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			reg := prometheus.NewRegistry()
			p, err := crmsync.NewPolicy(cfg, newStore(t), reg)
			if err != nil {
				t.Fatal(err)
			}
			ok, reason, err := p.Decide(context.Background(), tt.a)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tt.reason == "") || reason != tt.reason {
				t.Fatalf("Decide = %v %q, want reason %q", ok, reason, tt.reason)
			}
			if tt.reason != "" {
				c, err := reg.Gather()
				if err != nil {
					t.Fatal(err)
				}
				var found bool
				for _, mf := range c {
					if mf.GetName() != "callbridge_policy_dropped_total" {
						continue
					}
					for _, m := range mf.GetMetric() {
						if m.GetLabel()[0].GetValue() == tt.reason && m.GetCounter().GetValue() == 1 {
							found = true
						}
					}
				}
				if !found {
					t.Errorf("drop not counted under reason %q", tt.reason)
				}
			}
		})
	}
}

func TestDecideStartMargin(t *testing.T) {
	cfg := crmsync.DefaultPolicyConfig()
	cfg.StartMargin = 3 * time.Second
	store := newStore(t)
	p, err := crmsync.NewPolicy(cfg, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A second policy on the same store: another source or instance.
	p2, _ := crmsync.NewPolicy(cfg, store, nil)
	first := storetest.Activity("first")
	at := func(id string, d time.Duration, f func(*bridge.Activity)) bridge.Activity {
		a := storetest.Activity(id)
		a.StartedAt = first.StartedAt.Add(d)
		if f != nil {
			f(&a)
		}
		return a
	}
	// The same call seen through the SIP source: its own call id.
	viaSIP := func(a *bridge.Activity) { a.Source, a.CallID = "sip", "a84b4c76e66710@pbx" }
	// Written by another system: no call id known.
	unknown := func(a *bridge.Activity) { a.Source, a.CallID = "", "" }
	tests := []struct {
		name   string
		p      *crmsync.Policy
		a      bridge.Activity
		reason string
	}{
		{"first", p, first, ""},
		{"same activity again", p, first, ""},
		{"other source, +margin exactly", p2, at("sip-copy", 3*time.Second, viaSIP), crmsync.DropStartMargin},
		{"no call id, -margin exactly", p, at("m1", -3*time.Second, unknown), crmsync.DropStartMargin},
		{"+margin +1ms", p, at("m2", 3*time.Second+time.Millisecond, unknown), ""},
		{"same start, other format, same E.164", p2, at("m3", 0, func(a *bridge.Activity) { unknown(a); a.RemoteNumber = "0401234567" }), crmsync.DropStartMargin},
		{"same source, other call id, same start", p, at("m8", 0, nil), ""},
		{"same source and call id, other activity id", p, at("m9", 0, func(a *bridge.Activity) { a.CallID = first.CallID }), crmsync.DropStartMargin},
		{"same start, other user", p, at("m4", 0, func(a *bridge.Activity) { a.User = "102" }), ""},
		{"same start, other remote", p, at("m5", 0, func(a *bridge.Activity) { a.RemoteNumber, a.RemoteE164 = "+358409999999", "" }), ""},
		{"dropped by privacy: reserves nothing", p, at("m6", 20*time.Second, func(a *bridge.Activity) { a.Privacy = bridge.PrivacyPrivate }), crmsync.DropPrivacy},
		{"so a work call there is accepted", p, at("m7", 20*time.Second, nil), ""},
	}
	for _, tt := range tests {
		ok, reason, err := tt.p.Decide(context.Background(), tt.a)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (tt.reason == "") || reason != tt.reason {
			t.Errorf("%s: Decide = %v %q, want %q", tt.name, ok, reason, tt.reason)
		}
	}
}

func TestAssign(t *testing.T) {
	cfg := crmsync.DefaultPolicyConfig()
	cfg.DefaultAssignee = "crm-queue"
	cfg.Defaults.Templates = crmsync.Templates{Incoming: "IN", Outgoing: "OUT", MissedIncoming: "MISS", UnacceptedOutgoing: "NOANS"}
	cfg.Users = map[string]crmsync.UserSettings{
		"101": {CRMUser: "u-alice", Templates: crmsync.Templates{Incoming: "IN-A"}, ScreenPop: crmsync.ScreenPop{Open: crmsync.PopOnConnected}},
		"103": {Email: "Carol@Example.com"},
	}
	p, err := crmsync.NewPolicy(cfg, newStore(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	p.SetDirectory([]bridge.User{{Extension: "102", Email: "bob@example.com"}}, map[string]string{
		"bob@example.com": "u-bob", "carol@example.com": "u-carol",
	})
	act := func(user string, dir bridge.Direction, st bridge.Outcome) bridge.Activity {
		a := storetest.Activity("x")
		a.User, a.Direction, a.State = user, dir, st
		return a
	}
	tests := []struct {
		name     string
		a        bridge.Activity
		user     string
		mapped   bool
		template string
		open     string
	}{
		{"explicit, user template", act("101", bridge.Inbound, bridge.Connected), "u-alice", true, "IN-A", crmsync.PopOnConnected},
		{"explicit, default template", act("101", bridge.Outbound, bridge.Connected), "u-alice", true, "OUT", crmsync.PopOnConnected},
		{"by directory e-mail", act("102", bridge.Inbound, bridge.Missed), "u-bob", true, "MISS", crmsync.PopOnCall},
		{"by configured e-mail, any case", act("103", bridge.Outbound, bridge.Unaccepted), "u-carol", true, "NOANS", crmsync.PopOnCall},
		{"unmapped: default assignee", act("104", bridge.Inbound, bridge.Connected), "crm-queue", false, "IN", crmsync.PopOnCall},
	}
	for _, tt := range tests {
		as := p.Assign(tt.a)
		open := p.Settings(tt.a.User).ScreenPop.Open
		if as.CRMUser != tt.user || as.Mapped != tt.mapped || as.Template != tt.template || open != tt.open {
			t.Errorf("%s: %+v, screen pop open %q", tt.name, as, open)
		}
	}
	// The e-mail travels along, for CRMs that map by it themselves.
	for user, want := range map[string]string{"102": "bob@example.com", "103": "Carol@Example.com", "104": ""} {
		if got := p.Assign(act(user, bridge.Inbound, bridge.Connected)).Email; got != want {
			t.Errorf("%s: e-mail %q, want %q", user, got, want)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	neg := -time.Second
	cfg := crmsync.DefaultPolicyConfig()
	cfg.DurationLimit = -1
	cfg.StartMargin = -1
	cfg.Users = map[string]crmsync.UserSettings{
		"101": {Email: "alice", ScreenPop: crmsync.ScreenPop{Open: "ring", Close: "later", OpenOutgoing: "never", CallerCardDelay: &neg}},
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, key := range []string{"duration_limit:", "start_margin:", `users["101"].email:`, `users["101"].screen_pop.open:`,
		`users["101"].screen_pop.close:`, `users["101"].screen_pop.open_outgoing:`, `users["101"].screen_pop.caller_card_delay:`} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("no problem named %s in:\n%v", key, err)
		}
	}
	if err := crmsync.DefaultPolicyConfig().Validate(); err != nil {
		t.Errorf("default policy invalid: %v", err)
	}
	if _, err := crmsync.NewPolicy(cfg, newStore(t), nil); err == nil {
		t.Error("NewPolicy accepted an invalid config")
	}
}

func TestDecideCountsAccepted(t *testing.T) {
	reg := prometheus.NewRegistry()
	p, _ := crmsync.NewPolicy(crmsync.DefaultPolicyConfig(), newStore(t), reg)
	p.Decide(context.Background(), storetest.Activity("a"))
	if n, _ := testutil.GatherAndCount(reg, "callbridge_policy_accepted_total"); n != 1 {
		t.Errorf("accepted metric series: %d", n)
	}
}

// The e-mail a user is mapped by: their own policy setting, else the
// directory's, else policy.defaults.email.
func TestEmailOf(t *testing.T) {
	cfg := crmsync.DefaultPolicyConfig()
	cfg.Defaults.Email = "team@example.com"
	cfg.Users = map[string]crmsync.UserSettings{"101": {Email: "alice.crm@example.com"}}
	p, err := crmsync.NewPolicy(cfg, newStore(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	p.SetDirectory([]bridge.User{{Extension: "101", Email: "alice@example.com"}, {Extension: "102", Email: "bob@example.com"}},
		map[string]string{"team@example.com": "u-team"})
	for user, want := range map[string]string{"101": "alice.crm@example.com", "102": "bob@example.com", "103": "team@example.com"} {
		if got := p.EmailOf(user); got != want {
			t.Errorf("%s: %q, want %q", user, got, want)
		}
		a := storetest.Activity("e" + user)
		a.User = user
		if got := p.Assign(a).Email; got != want {
			t.Errorf("%s: assignment e-mail %q, want %q", user, got, want)
		}
	}
	a := storetest.Activity("e103")
	a.User = "103"
	if as := p.Assign(a); as.CRMUser != "u-team" || !as.Mapped {
		t.Errorf("a user without an e-mail is mapped by the default one: %+v", as)
	}
}
