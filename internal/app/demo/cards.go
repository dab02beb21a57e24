package demo

import (
	"fmt"
	"strings"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/cards"
	"github.com/callbridge/callbridge/internal/phone"
	"github.com/callbridge/callbridge/internal/script"
)

// desk is the agents' caller cards as --live shows them: the same engine
// the daemon's /api/agents/{extension}/events streams, with open on ring
// and close on answer, the lab's two lines named, and a stand-in CRM that
// knows the lab's external caller.
type desk struct {
	eng  *cards.Engine
	subs map[string]<-chan cards.Event
	t    *table
}

var deskUsers = []cards.User{{Extension: "101", Name: "Alice"}, {Extension: "102", Name: "Bob"}, {Extension: "103", Name: "Carol"}}

func newDesk(t *table) *desk {
	pc := crmsync.DefaultPolicyConfig()
	pc.Defaults.ScreenPop.Close = crmsync.PopOnConnected
	search, _ := script.Parse("Search the web", "https://www.google.com/search?q=#(Caller number:E164)", nil)
	d := &desk{t: t, subs: map[string]<-chan cards.Event{}, eng: cards.New(cards.Options{
		Users: deskUsers, ScreenPop: pc.ScreenPopOf, Normalizer: phone.NewNormalizer("FI"),
		DDIName: func(ddi string) string {
			return map[string]string{"+35850111222": "Support", "+35850111333": "Sales"}[ddi]
		},
		Finder:  demoCRM{},
		Scripts: []cards.Scripts{{Connector: "demo-crm", Templates: []*script.Template{search}}},
	})}
	for _, u := range deskUsers {
		_, ch, _ := d.eng.Subscribe(u.Extension, 0, false)
		d.subs[u.Extension] = ch
	}
	return d
}

// transition feeds the cards and prints what each agent's desktop was
// told, in the order it was told.
func (d *desk) transition(tr bridge.Transition) {
	d.eng.Transition(tr)
	d.t.mu.Lock()
	defer d.t.mu.Unlock()
	for _, u := range deskUsers {
		for {
			select {
			case ev := <-d.subs[u.Extension]:
				d.print(u, ev)
				continue
			default:
			}
			break
		}
	}
}

func (d *desk) print(u cards.User, ev cards.Event) {
	c := ev.Card
	who := c.RemoteNumber
	if c.RemoteE164 != "" {
		who = c.RemoteE164
	}
	if len(c.Records) > 0 {
		who = c.Records[0].Name + " " + who
	} else if c.RemoteName != "" {
		who = c.RemoteName + " " + who
	}
	var what string
	switch ev.Kind {
	case cards.Offer:
		what = fmt.Sprintf("%s call, %s", c.Type, who)
		if c.DDIName != "" {
			what += ", line " + c.DDIName
		}
	case cards.Open:
		var links []string
		if c.PopURL != "" {
			links = append(links, c.PopURL)
		}
		for _, s := range c.Scripts {
			links = append(links, s.Name)
		}
		what = "the card opens: " + strings.Join(links, " · ")
	case cards.Close:
		what = "the card closes"
	case cards.Connected:
		what = "connected"
	case cards.Ended:
		what = "ended"
	}
	fmt.Fprintf(d.t.w, "          ▸ %s  %s %-5s  %-9s  %s\n", ev.At.Format("15:04:05.000"), u.Extension, u.Name, ev.Kind, what)
}

// demoCRM stands in for a CRM's phone index: it knows the lab's
// external caller.
type demoCRM struct{}

func (demoCRM) Find(_, number string, _ []string) []cards.Record {
	if number != "+358401234567" {
		return nil
	}
	return []cards.Record{{Connector: "demo-crm", Entity: "contact", ID: "c-1", Name: "Maija Meikäläinen", Kind: "person", Exact: true,
		URL: "https://crm.example.com/contacts/c-1"}}
}

func (demoCRM) NewRecordURL(string, string, string) string { return "" }
