package crmsync

import (
	"strings"
	"testing"
	"time"
)

// A user's screen pop is the defaults with their overrides; rules are
// asked user first (type, then default), then the module (type, then
// default).
func TestScreenPopOf(t *testing.T) {
	d, two := time.Duration(0), 2*time.Second
	c := DefaultPolicyConfig()
	c.Defaults.ScreenPop.Rules = ScreenPopRules{
		Inbound: &ScreenPopRule{Connector: "dynamics", Entities: []string{"contact"}},
		Default: &ScreenPopRule{Connector: NoSearch},
	}
	c.Users = map[string]UserSettings{
		"101": {ScreenPop: ScreenPop{Open: PopOnConnected, CallerCardDelay: &two,
			Rules: ScreenPopRules{Manual: &ScreenPopRule{URL: "https://crm.example.com/dial?n=#(Caller number)"}}}},
		"102": {ScreenPop: ScreenPop{OpenOutgoing: PopAlways, Rules: ScreenPopRules{Default: &ScreenPopRule{Connector: "other"}}}},
	}
	c.Defaults.ScreenPop.CallerCardDelay = &d
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	a, b, n := c.ScreenPopOf("101"), c.ScreenPopOf("102"), c.ScreenPopOf("103")
	if a.Open != PopOnConnected || a.Close != PopNever || a.OpenOutgoing != PopUser || a.Delay != two {
		t.Errorf("101: %+v", a)
	}
	if n.Open != PopOnCall || n.Delay != 0 {
		t.Errorf("103 (no overrides): %+v", n)
	}
	for _, tt := range []struct {
		s         UserScreenPop
		typ, want string
	}{
		{a, CallManual, "url https://crm.example.com/dial?n=#(Caller number)"},
		{a, CallInbound, "connector dynamics"},
		{a, CallOutbound, "connector none"},
		{b, CallInbound, "connector other"}, // the user's default before the module's inbound
		{n, CallInternal, "connector none"},
		{UserScreenPop{}, CallInbound, "connector "},
	} {
		r := tt.s.Rule(tt.typ)
		got := "connector " + r.Connector
		if r.URL != "" {
			got = "url " + r.URL
		}
		if got != tt.want {
			t.Errorf("%s: %s, want %s", tt.typ, got, tt.want)
		}
	}
	if !b.Pops(true, false) || a.Pops(true, false) || !a.Pops(true, true) || !a.Pops(false, false) {
		t.Error("open_outgoing: user pops click-to-dial and offered calls only; always also calls dialled on the phone")
	}
}

// Closing on connect when the card opens on connect is refused, for the
// defaults once and for a user whose own settings make it.
func TestScreenPopConflict(t *testing.T) {
	c := DefaultPolicyConfig()
	c.Defaults.ScreenPop.Close = PopOnConnected
	c.Users = map[string]UserSettings{
		"101": {ScreenPop: ScreenPop{Open: PopOnConnected}},
		"102": {ScreenPop: ScreenPop{OpenOutgoing: PopAlways}},
	}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), `users["101"].screen_pop.close`) || strings.Contains(err.Error(), `"102"`) {
		t.Fatalf("%v", err)
	}
	c.Defaults.ScreenPop.Open = PopOnConnected
	c.Users = map[string]UserSettings{"101": {ScreenPop: ScreenPop{OpenOutgoing: PopAlways}}}
	err = c.Validate()
	if err == nil || strings.Count(err.Error(), "screen_pop.close") != 1 || !strings.Contains(err.Error(), "defaults.screen_pop.close") {
		t.Fatalf("%v", err)
	}
	long := 2 * time.Minute
	c = DefaultPolicyConfig()
	c.Defaults.ScreenPop.CallerCardDelay = &long
	c.Defaults.ScreenPop.Rules.Inbound = &ScreenPopRule{Connector: NoSearch, AddNewRecord: true}
	err = c.Validate()
	if err == nil || !strings.Contains(err.Error(), "caller_card_delay") || !strings.Contains(err.Error(), "rules.inbound.connector") {
		t.Fatalf("%v", err)
	}
}
