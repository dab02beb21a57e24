package cards_test

import (
	"strings"
	"testing"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/cards"
	"github.com/callbridge/callbridge/internal/phone"
	"github.com/callbridge/callbridge/internal/recorded"
	"github.com/callbridge/callbridge/internal/script"
)

// everyone knows every number as one contact.
type everyone struct{}

func (everyone) Find(connector, number string, entities []string) []cards.Record {
	return []cards.Record{{Connector: "dynamics", Entity: "contact", ID: "c-" + number, Name: "Caller " + number, Kind: "person", Exact: true,
		Fields: map[string]string{"emailaddress1": "caller@example.com"}, URL: "https://crm.example.com/contact/" + number}}
}

func (everyone) NewRecordURL(connector, entity, number string) string { return "" }

// nobody knows no number: a CRM without recognition, as the race kit's
// webhook.
type nobody struct{}

func (nobody) Find(connector, number string, entities []string) []cards.Record { return nil }
func (nobody) NewRecordURL(connector, entity, number string) string            { return "" }

// BenchmarkTransition: one live transition of the recordings (every
// recording, from ARI and AMI, with and without the lab's directory, in
// turn) through one long-lived engine; ns/op is per transition.
// daemon is as `callbridge run` in the race kit (a CRM that knows no
// number, no scripts, no stream open); crm has every number found in the
// CRM, two scripts and a stream open for every user, read as it goes.
func BenchmarkTransition(b *testing.B) {
	trs, err := recorded.Transitions("../../testdata/recordings")
	if err != nil {
		b.Fatal(err)
	}
	trs = endAll(trs)
	pattern := func(ext string) bool { return len(ext) == 3 && strings.Trim(ext, "0123456789") == "" }
	search, _ := script.Parse("Search", "https://www.google.com/search?q=#(Caller number)&line=#(Ddi name)", nil)
	mail, _ := script.Parse("Mail", "mailto:$(emailaddress1)?subject=#(Caller name)", func(f string) bool { return f == "emailaddress1" })
	users := map[string]bool{}
	for _, tr := range trs {
		users[tr.User] = true
	}
	for _, bb := range []struct {
		name    string
		finder  cards.Finder
		scripts []cards.Scripts
		streams bool
	}{
		{"daemon", nobody{}, nil, false},
		{"crm", everyone{}, []cards.Scripts{{Connector: "dynamics", Templates: []*script.Template{search, mail}}}, true},
	} {
		b.Run(bb.name, func(b *testing.B) {
			pc := crmsync.DefaultPolicyConfig()
			e := cards.New(cards.Options{ScreenPop: pc.ScreenPopOf, Normalizer: phone.NewNormalizer("FI"), Pattern: pattern,
				Finder: bb.finder, Scripts: bb.scripts, Clock: cards.NewManualClock(t0)})
			var streams []<-chan cards.Event
			if bb.streams {
				for u := range users {
					_, ch, cancel := e.Subscribe(u, 0, false)
					defer cancel()
					streams = append(streams, ch)
				}
			}
			read := func() {
				for _, ch := range streams {
					for len(ch) > 0 {
						<-ch
					}
				}
			}
			for _, tr := range trs { // warm: the numbers' forms, the agents
				e.Transition(tr)
				read()
			}
			for _, p := range e.Presence() {
				if p.Calls != 0 {
					b.Fatalf("%s has %d cards left after every recording", p.Extension, p.Calls)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				e.Transition(trs[i%len(trs)])
				read()
			}
		})
	}
}

// endAll appends a hung-up transition for every call of a user that
// trs leave ringing or connected (a pickup's ringing phone is one), so
// that cards do not pile up from one pass over the recordings to the
// next, as in the daemon the 12-hour prune keeps them from doing.
func endAll(trs []bridge.Transition) []bridge.Transition {
	type key struct{ user, call string }
	open := map[key]int{}
	var order []key
	for i, tr := range trs {
		k := key{tr.User, tr.CallID}
		if tr.State == bridge.HungUp {
			delete(open, k)
			continue
		}
		if _, ok := open[k]; !ok {
			order = append(order, k)
		}
		open[k] = i
	}
	out := trs[:len(trs):len(trs)]
	for _, k := range order {
		if i, ok := open[k]; ok {
			end := trs[i]
			end.State = bridge.HungUp
			out = append(out, end)
			delete(open, k)
		}
	}
	return out
}

// The recordings give the benchmark live transitions of every state.
func TestBenchTransitions(t *testing.T) {
	trs, err := recorded.Transitions("../../testdata/recordings")
	if err != nil {
		t.Fatal(err)
	}
	n := map[bridge.LiveState]int{}
	for _, tr := range trs {
		n[tr.State]++
	}
	if n[bridge.Ringing] == 0 || n[bridge.Talking] == 0 || n[bridge.HungUp] == 0 {
		t.Errorf("transitions by state: %v", n)
	}
}
