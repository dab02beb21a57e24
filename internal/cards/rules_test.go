package cards_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/cards"
	"github.com/callbridge/callbridge/internal/phone"
)

// asked is a Finder that knows nobody and notes what it was asked.
type asked struct {
	mu  sync.Mutex
	got []string
}

func (a *asked) Find(connector, number string, entities []string) []cards.Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, connector+"/"+strings.Join(entities, "+"))
	return nil
}

func (a *asked) NewRecordURL(connector, entity, number string) string {
	return "https://crm.example.com/new/" + connector + "/" + entity + "?phone=" + number
}

// Each call type's rule (policy.defaults.screen_pop.rules.<type>) decides
// that type's card alone: connector and entities are what is searched,
// add_new_record pops the new-record form when nothing matches, url is
// the pop instead; a type without a rule of its own takes default's.
func TestRulePerCallType(t *testing.T) {
	call := func(typ string) bridge.Transition {
		x := tr(0, "101", bridge.Ringing, bridge.Inbound, "+358401234567")
		switch typ {
		case crmsync.CallOutbound, crmsync.CallManual:
			x.Direction, x.DDI = bridge.Outbound, ""
		case crmsync.CallInternal:
			x.Internal, x.RemoteNumber, x.DDI = true, "102", ""
		}
		return x
	}
	types := []string{crmsync.CallInbound, crmsync.CallOutbound, crmsync.CallInternal, crmsync.CallManual, "default"}
	for _, ruled := range types {
		for _, withURL := range []bool{false, true} {
			rule := &crmsync.ScreenPopRule{Connector: "crm-" + ruled, Entities: []string{"e-" + ruled}, AddNewRecord: true}
			if withURL {
				rule.URL = "https://crm.example.com/pop/" + ruled + "?n=#(Caller number)"
			}
			var rules crmsync.ScreenPopRules
			switch ruled {
			case crmsync.CallInbound:
				rules.Inbound = rule
			case crmsync.CallOutbound:
				rules.Outbound = rule
			case crmsync.CallInternal:
				rules.Internal = rule
			case crmsync.CallManual:
				rules.Manual = rule
			default:
				rules.Default = rule
			}
			pc := crmsync.DefaultPolicyConfig()
			pc.Defaults.ScreenPop = crmsync.ScreenPop{Rules: rules, OpenOutgoing: crmsync.PopAlways}
			if err := pc.Validate(); err != nil {
				t.Fatal(err)
			}
			for _, typ := range types[:4] {
				f := &asked{}
				e := cards.New(cards.Options{Users: []cards.User{{Extension: "101"}, {Extension: "102"}}, ScreenPop: pc.ScreenPopOf,
					Normalizer: phone.NewNormalizer("FI"), Finder: f})
				_, ch, cancel := e.Subscribe("101", 0, false)
				if typ == crmsync.CallManual {
					e.Placing("call-1", "101", "0401234567")
				}
				e.Transition(call(typ))
				c := (<-ch).Card
				cancel()
				if c.Type != typ {
					t.Fatalf("%s: card type %s", typ, c.Type)
				}
				applies := typ == ruled || ruled == "default"
				var want, wantAsked string
				switch {
				case !applies:
					wantAsked = "/" // no rule: the first index, every entity
				case withURL:
					want, wantAsked = "https://crm.example.com/pop/"+ruled+"?n=0401234567", "crm-"+ruled+"/e-"+ruled
				default:
					want, wantAsked = "https://crm.example.com/new/crm-"+ruled+"/e-"+ruled+"?phone=+358401234567", "crm-"+ruled+"/e-"+ruled
				}
				if typ == crmsync.CallInternal && !applies {
					want = ""
				}
				if typ == crmsync.CallInternal {
					// 102 is a colleague, not a number the CRM holds.
					want = strings.ReplaceAll(want, "+358401234567", "102")
					want = strings.ReplaceAll(want, "0401234567", "102")
				}
				if c.PopURL != want || c.NewRecord != (applies && !withURL) || len(f.got) != 1 || f.got[0] != wantAsked {
					t.Errorf("rule for %s (url %v), a %s call: pop %q new %v, asked %v; want pop %q, asked %s",
						ruled, withURL, typ, c.PopURL, c.NewRecord, f.got, want, wantAsked)
				}
			}
		}
	}
}
