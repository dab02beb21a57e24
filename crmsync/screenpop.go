package crmsync

import (
	"fmt"
	"sort"
	"time"
)

// Call types, as the caller card names them and screen-pop rules are keyed
// by. Manual is a call placed through callbridge's click-to-dial (its
// activity is still the user's outbound call).
const (
	CallInbound  = "inbound"
	CallOutbound = "outbound"
	CallInternal = "internal"
	CallManual   = "manual"
)

// NoSearch as a rule's connector: the card looks nobody up.
const NoSearch = "none"

// ScreenPopRules say, per call type, where the caller card looks the
// remote party up and what it opens (screen_pop.rules). A user's rules
// (policy.users) are asked first: the rule for the call's type, then
// their default; then the module's (policy.defaults), the same way.
type ScreenPopRules struct {
	Inbound  *ScreenPopRule `yaml:"inbound,omitempty"`
	Outbound *ScreenPopRule `yaml:"outbound,omitempty"`
	Internal *ScreenPopRule `yaml:"internal,omitempty"`
	Manual   *ScreenPopRule `yaml:"manual,omitempty"`
	Default  *ScreenPopRule `yaml:"default,omitempty"`
}

// ScreenPopRule is one call type's screen pop.
type ScreenPopRule struct {
	// Connector is the crm[] entry (its name) whose phone index is
	// searched. Empty: the first with recognition; "none": no search.
	Connector string `yaml:"connector,omitempty"`
	// Entities limits the search to these of the connector's
	// recognition entities ("contact"); the first also gets the "new
	// record" link. Empty: all of them.
	Entities []string `yaml:"entities,omitempty"`
	// URL is the pop's URL template (the script placeholders, #(…) and
	// $(…)); empty: the matched record's page in the CRM.
	URL string `yaml:"url,omitempty"`
	// AddNewRecord: when nothing matches, the pop is the CRM's "new
	// record" form prefilled with the number.
	AddNewRecord bool `yaml:"add_new_record,omitempty"`
}

// rule is the rule of callType, then the default; nil when neither is set.
func (r ScreenPopRules) rule(callType string) *ScreenPopRule {
	var t *ScreenPopRule
	switch callType {
	case CallInbound:
		t = r.Inbound
	case CallOutbound:
		t = r.Outbound
	case CallInternal:
		t = r.Internal
	case CallManual:
		t = r.Manual
	}
	if t == nil {
		t = r.Default
	}
	return t
}

// each calls fn with every rule set, named by its key.
func (r ScreenPopRules) each(fn func(key string, rule ScreenPopRule)) {
	for _, k := range []struct {
		key  string
		rule *ScreenPopRule
	}{{CallInbound, r.Inbound}, {CallOutbound, r.Outbound}, {CallInternal, r.Internal}, {CallManual, r.Manual}, {"default", r.Default}} {
		if k.rule != nil {
			fn(k.key, *k.rule)
		}
	}
}

// EachRule calls fn with every screen-pop rule of the policy, keyed as the
// configuration names it relative to the policy section
// ("defaults.screen_pop.rules.inbound"), in a fixed order: for checks that
// need the connectors (config check).
func (c PolicyConfig) EachRule(fn func(key string, rule ScreenPopRule)) {
	c.Defaults.ScreenPop.Rules.each(func(k string, r ScreenPopRule) { fn("defaults.screen_pop.rules."+k, r) })
	for _, ext := range sortedUsers(c.Users) {
		c.Users[ext].ScreenPop.Rules.each(func(k string, r ScreenPopRule) {
			fn(fmt.Sprintf("users[%q].screen_pop.rules.%s", ext, k), r)
		})
	}
}

func sortedUsers(m map[string]UserSettings) []string {
	out := make([]string, 0, len(m))
	for ext := range m {
		out = append(out, ext)
	}
	sort.Strings(out)
	return out
}

// UserScreenPop is one user's screen pop: the module defaults with the
// user's overrides.
type UserScreenPop struct {
	Open         string // PopOnCall or PopOnConnected
	Close        string // PopNever or PopOnConnected
	OpenOutgoing string // PopUser or PopAlways
	Delay        time.Duration
	user, module ScreenPopRules
}

// Rule is the screen-pop rule for a call of callType: the user's for the
// type, the user's default, the module's for the type, the module's
// default; the zero rule (search the first index, pop the record) when
// none is set.
func (s UserScreenPop) Rule(callType string) ScreenPopRule {
	if r := s.user.rule(callType); r != nil {
		return *r
	}
	if r := s.module.rule(callType); r != nil {
		return *r
	}
	return ScreenPopRule{}
}

// Pops says whether a call of this direction and type opens the card at
// all: every call offered to the user, every click-to-dial call, and calls
// dialled on the phone only with open_outgoing: always.
func (s UserScreenPop) Pops(outbound, manual bool) bool {
	return !outbound || manual || s.OpenOutgoing == PopAlways
}

// ScreenPopOf is user's screen pop (policy.defaults.screen_pop with
// policy.users[user].screen_pop over it).
func (c PolicyConfig) ScreenPopOf(user string) UserScreenPop {
	var over *ScreenPop
	if o, ok := c.Users[user]; ok {
		over = &o.ScreenPop
	}
	return merge(c.Defaults.ScreenPop, over)
}

func merge(d ScreenPop, over *ScreenPop) UserScreenPop {
	s := UserScreenPop{Open: d.Open, Close: d.Close, OpenOutgoing: d.OpenOutgoing, module: d.Rules}
	if d.CallerCardDelay != nil {
		s.Delay = *d.CallerCardDelay
	}
	if over != nil {
		pick := func(dst *string, v string) {
			if v != "" {
				*dst = v
			}
		}
		pick(&s.Open, over.Open)
		pick(&s.Close, over.Close)
		pick(&s.OpenOutgoing, over.OpenOutgoing)
		if over.CallerCardDelay != nil {
			s.Delay = *over.CallerCardDelay
		}
		s.user = over.Rules
	}
	if s.Open == "" {
		s.Open = PopOnCall
	}
	if s.Close == "" {
		s.Close = PopNever
	}
	if s.OpenOutgoing == "" {
		s.OpenOutgoing = PopUser
	}
	return s
}

// validateScreenPops checks what only the merged settings show: closing
// the card when the call connects is no use when that is when it opens.
// A conflict of the defaults is reported once, for them; a user's only
// when their own open or close makes it.
func (c PolicyConfig) validateScreenPops(bad func(key, format string, args ...any)) {
	conflict := func(s UserScreenPop) bool { return s.Open == PopOnConnected && s.Close == PopOnConnected }
	report := func(key string) {
		bad(key+".screen_pop.close", "%q with open %q would close the card the moment it opens: use close %q", PopOnConnected, PopOnConnected, PopNever)
	}
	if conflict(merge(c.Defaults.ScreenPop, nil)) {
		report("defaults")
	}
	for _, ext := range sortedUsers(c.Users) {
		o := c.Users[ext].ScreenPop
		if (o.Open != "" || o.Close != "") && conflict(c.ScreenPopOf(ext)) {
			report(fmt.Sprintf("users[%q]", ext))
		}
	}
}

func (r ScreenPopRules) validate(key string, bad func(key, format string, args ...any)) {
	r.each(func(k string, rule ScreenPopRule) {
		for i, e := range rule.Entities {
			if e == "" {
				bad(fmt.Sprintf("%s.%s.entities[%d]", key, k, i), "empty")
			}
		}
		if rule.Connector == NoSearch && (len(rule.Entities) > 0 || rule.AddNewRecord) {
			bad(key+"."+k+".connector", "%q searches nothing: entities and add_new_record need a connector", NoSearch)
		}
	})
}
