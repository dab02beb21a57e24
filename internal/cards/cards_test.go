package cards_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/cards"
	"github.com/callbridge/callbridge/internal/phone"
	"github.com/callbridge/callbridge/internal/script"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// finder knows one contact.
type finder struct{}

func (finder) Find(connector, number string, entities []string) []cards.Record {
	if number != "+358401234567" || (len(entities) > 0 && entities[0] != "contact") {
		return nil
	}
	return []cards.Record{{Connector: "dynamics", Entity: "contact", ID: "c1", Name: "Matti Meikäläinen", Kind: "person", Exact: true,
		Fields: map[string]string{"emailaddress1": "matti@example.com"}, URL: "https://crm.example.com/contact/c1"}}
}

func (finder) NewRecordURL(connector, entity, number string) string {
	return "https://crm.example.com/new/" + entity + "?phone=" + number
}

func engine(t *testing.T, pop crmsync.ScreenPop, clock cards.Clock) *cards.Engine {
	t.Helper()
	pc := crmsync.DefaultPolicyConfig()
	pc.Defaults.ScreenPop = pop
	if err := pc.Validate(); err != nil {
		t.Fatal(err)
	}
	search, _ := script.Parse("Search", "https://www.google.com/search?q=#(Caller number)&line=#(Ddi name)", nil)
	mail, _ := script.Parse("Mail", "mailto:$(emailaddress1)?subject=#(Caller name)", func(f string) bool { return f == "emailaddress1" })
	return cards.New(cards.Options{
		Users:      []cards.User{{Extension: "101", Name: "Alice Andersson"}, {Extension: "102", Name: "Bob Berg"}},
		ScreenPop:  pc.ScreenPopOf,
		Normalizer: phone.NewNormalizer("FI"),
		DDIName:    func(d string) string { return map[string]string{"+35850111222": "Support & Sales"}[d] },
		Finder:     finder{},
		Scripts:    []cards.Scripts{{Connector: "dynamics", Templates: []*script.Template{search, mail}}},
		Clock:      clock,
	})
}

// tr is a transition as the engine gives it: a DDI on inbound calls only.
func tr(at float64, user string, state bridge.LiveState, dir bridge.Direction, remote string) bridge.Transition {
	x := bridge.Transition{Time: t0.Add(time.Duration(at * float64(time.Second))), CallID: "call-1", User: user, State: state,
		Direction: dir, RemoteNumber: remote}
	if dir == bridge.Inbound {
		x.DDI = "+35850111222"
	}
	return x
}

// kinds collects the kinds of what the stream got so far.
func kinds(ch <-chan cards.Event) string {
	var out []string
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return strings.Join(append(out, "<closed>"), ",")
			}
			out = append(out, ev.Kind)
		default:
			return strings.Join(out, ",")
		}
	}
}

func sec(s float64) *time.Duration { d := time.Duration(s * float64(time.Second)); return &d }

// An inbound call answered after 3 s, per setting: the server sends what
// the settings say, a delay runs on the clock, and a delayed open is
// dropped when the call connects (close: connected) or ends first.
func TestOpenClose(t *testing.T) {
	for _, tt := range []struct {
		name string
		pop  crmsync.ScreenPop
		ends float64 // when the call ends (connected at 3 s when later than 3)
		want string
	}{
		{"on call", crmsync.ScreenPop{}, 8, "offer,open,connected,ended"},
		{"on call, close on connect", crmsync.ScreenPop{Close: crmsync.PopOnConnected}, 8, "offer,open,connected,close,ended"},
		{"on connect", crmsync.ScreenPop{Open: crmsync.PopOnConnected}, 8, "offer,connected,open,ended"},
		{"on call, delay 2s", crmsync.ScreenPop{CallerCardDelay: sec(2)}, 8, "offer,open,connected,ended"},
		{"on call, delay 5s", crmsync.ScreenPop{CallerCardDelay: sec(5)}, 8, "offer,connected,open,ended"},
		{"on call, delay 5s, close on connect", crmsync.ScreenPop{CallerCardDelay: sec(5), Close: crmsync.PopOnConnected}, 8, "offer,connected,ended"},
		{"on connect, delay 2s", crmsync.ScreenPop{Open: crmsync.PopOnConnected, CallerCardDelay: sec(2)}, 8, "offer,connected,open,ended"},
		{"on connect, delay 2s, ended first", crmsync.ScreenPop{Open: crmsync.PopOnConnected, CallerCardDelay: sec(2)}, 4, "offer,connected,ended"},
		{"missed, delay 5s", crmsync.ScreenPop{CallerCardDelay: sec(5)}, 2, "offer,ended"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := cards.NewManualClock(t0)
			e := engine(t, tt.pop, clock)
			_, ch, cancel := e.Subscribe("101", 0, false)
			defer cancel()
			feed := func(x bridge.Transition) { clock.Set(x.Time); e.Transition(x) }
			feed(tr(0, "101", bridge.Ringing, bridge.Inbound, "+358401234567"))
			if tt.ends > 3 {
				feed(tr(3, "101", bridge.Talking, bridge.Inbound, "+358401234567"))
			}
			feed(tr(tt.ends, "101", bridge.HungUp, bridge.Inbound, "+358401234567"))
			clock.Set(t0.Add(time.Minute)) // a timer left over would fire now
			if got := kinds(ch); got != tt.want {
				t.Errorf("%s, want %s", got, tt.want)
			}
		})
	}
}

// Outgoing calls dialled on the phone open the card only with
// open_outgoing: always; a click-to-dial call always does, as manual,
// with the number asked for whatever the PBX signals.
func TestOutgoing(t *testing.T) {
	for _, tt := range []struct {
		openOutgoing string
		manual       bool
		want         string
	}{
		{crmsync.PopUser, false, "offer,connected,ended"},
		{crmsync.PopAlways, false, "offer,open,connected,ended"},
		{crmsync.PopUser, true, "offer,open,connected,ended"},
		{crmsync.PopAlways, true, "offer,open,connected,ended"},
	} {
		e := engine(t, crmsync.ScreenPop{OpenOutgoing: tt.openOutgoing}, nil)
		_, ch, cancel := e.Subscribe("101", 0, false)
		if tt.manual {
			e.Placing("call-1", "101", "0401234567")
			// The agent's own phone rings with the caller id callbridge set.
			e.Transition(tr(0, "101", bridge.Ringing, bridge.Inbound, "0401234567"))
		} else {
			e.Transition(tr(0, "101", bridge.Ringing, bridge.Outbound, "0401234567"))
		}
		e.Transition(tr(3, "101", bridge.Talking, bridge.Outbound, "0401234567"))
		_, ch2, cancel2 := e.Subscribe("101", 0, false)
		e.Transition(tr(5, "101", bridge.HungUp, bridge.Outbound, "0401234567"))
		if got := kinds(ch); got != tt.want {
			t.Errorf("open_outgoing %s, manual %v: %s, want %s", tt.openOutgoing, tt.manual, got, tt.want)
		}
		ev := <-ch2
		want := crmsync.CallOutbound
		if tt.manual {
			want = crmsync.CallManual
		}
		if ev.Card.Type != want || ev.Card.Direction != "outbound" || ev.Card.RemoteE164 != "+358401234567" || ev.Card.DDINumber != "" {
			t.Errorf("card %+v", ev.Card)
		}
		cancel()
		cancel2()
	}
}

// The card: both forms of the number, the line's name, the device, the
// records with their fields and pages, the pop, the rendered scripts.
func TestCardContent(t *testing.T) {
	e := engine(t, crmsync.ScreenPop{}, nil)
	_, ch, cancel := e.Subscribe("101", 0, false)
	defer cancel()
	e.Transition(tr(0, "101", bridge.Ringing, bridge.Inbound, "+358401234567"))
	ev := <-ch
	c := ev.Card
	if ev.Kind != cards.Offer || c.Type != "inbound" || c.RemoteE164 != "+358401234567" || c.RemoteNational != "0401234567" ||
		c.DDIName != "Support & Sales" || c.DDINational != "050111222" || c.DeviceName != "Alice Andersson" || c.DeviceNumber != "101" ||
		!c.StartedAt.Equal(t0) || c.State != "ringing" || c.Open {
		t.Errorf("card %+v", c)
	}
	if len(c.Records) != 1 || c.Records[0].Fields["emailaddress1"] != "matti@example.com" || c.PopURL != "https://crm.example.com/contact/c1" {
		t.Errorf("records %+v, pop %q", c.Records, c.PopURL)
	}
	want := []string{
		"Search https://www.google.com/search?q=0401234567&line=Support%20%26%20Sales",
		"Mail mailto:matti@example.com?subject=Matti%20Meik%C3%A4l%C3%A4inen",
	}
	if len(c.Scripts) != 2 || c.Scripts[0].Name+" "+c.Scripts[0].URL != want[0] || c.Scripts[1].Name+" "+c.Scripts[1].URL != want[1] {
		t.Errorf("scripts %+v", c.Scripts)
	}
	if open := <-ch; open.Kind != cards.Open || !open.Card.Open {
		t.Errorf("then %+v", open)
	}
}

// Rules per call type: a rule's URL, a new-record pop when nothing
// matches, no search at all.
func TestRules(t *testing.T) {
	pop := crmsync.ScreenPop{Rules: crmsync.ScreenPopRules{
		Inbound:  &crmsync.ScreenPopRule{URL: "https://crm.example.com/pop?id=$(Id)&line=#(Ddi number:E164)"},
		Outbound: &crmsync.ScreenPopRule{Entities: []string{"lead"}, AddNewRecord: true},
		Internal: &crmsync.ScreenPopRule{Connector: crmsync.NoSearch},
	}, OpenOutgoing: crmsync.PopAlways}
	for _, tt := range []struct {
		dir      bridge.Direction
		internal bool
		remote   string
		pop      string
		records  int
		scripts  int
	}{
		{bridge.Inbound, false, "+358401234567", "https://crm.example.com/pop?id=c1&line=%2B35850111222", 1, 2},
		{bridge.Outbound, false, "0401234567", "https://crm.example.com/new/lead?phone=+358401234567", 0, 1},
		{bridge.Inbound, true, "102", "", 0, 1},
	} {
		e := engine(t, pop, nil)
		_, ch, cancel := e.Subscribe("101", 0, false)
		x := tr(0, "101", bridge.Ringing, tt.dir, tt.remote)
		x.Internal = tt.internal
		e.Transition(x)
		c := (<-ch).Card
		if c.PopURL != tt.pop || len(c.Records) != tt.records || len(c.Scripts) != tt.scripts || c.NewRecord != (tt.dir == bridge.Outbound) {
			t.Errorf("%s %v: pop %q, records %d, scripts %+v", tt.dir, tt.internal, c.PopURL, len(c.Records), c.Scripts)
		}
		cancel()
	}
}

// A reconnecting client gets the calls in progress at once; resuming
// after an event id, also what ended meanwhile.
func TestReplay(t *testing.T) {
	e := engine(t, crmsync.ScreenPop{}, nil)
	e.Transition(tr(0, "101", bridge.Ringing, bridge.Inbound, "+358401234567"))
	second := tr(1, "101", bridge.Ringing, bridge.Inbound, "+358409999999")
	second.CallID = "call-2"
	e.Transition(second)
	replay, _, cancel := e.Subscribe("101", 0, false)
	cancel()
	if len(replay) != 4 || replay[0].Kind != cards.Offer || replay[1].Kind != cards.Open || replay[3].Card.CallID != "call-2" {
		t.Fatalf("calls in progress: %+v", replay)
	}
	last := replay[3].ID
	e.Transition(tr(3, "101", bridge.HungUp, bridge.Inbound, "+358401234567"))
	replay, _, cancel = e.Subscribe("101", last, true)
	cancel()
	if len(replay) != 1 || replay[0].Kind != cards.Ended || replay[0].Card.CallID != "call-1" {
		t.Fatalf("resumed: %+v", replay)
	}
	replay, _, cancel = e.Subscribe("101", 0, false)
	cancel()
	if len(replay) != 2 || replay[0].Card.CallID != "call-2" {
		t.Fatalf("fresh: %+v", replay)
	}
	if other, _, cancel := e.Subscribe("102", 0, false); len(other) != 0 {
		t.Errorf("102 sees 101's calls: %+v", other)
	} else {
		cancel()
	}
}

// A stream that falls behind is dropped (its channel closed), not waited
// for; the others go on.
func TestSlowStreamDropped(t *testing.T) {
	e := cards.New(cards.Options{Buffer: 2})
	_, slow, cancel := e.Subscribe("101", 0, false)
	defer cancel()
	for i := 0; i < 3; i++ {
		x := tr(float64(i), "101", bridge.Ringing, bridge.Inbound, "+358401234567")
		x.CallID = string(rune('a' + i))
		e.Transition(x)
	}
	if got := kinds(slow); !strings.HasSuffix(got, "<closed>") {
		t.Errorf("slow stream: %s", got)
	}
}

// Presence: each user's phone state and since when, and whether their
// desktop is up.
func TestPresence(t *testing.T) {
	e := engine(t, crmsync.ScreenPop{}, nil)
	_, _, cancel := e.Subscribe("102", 0, false)
	defer cancel()
	e.Transition(tr(0, "101", bridge.Ringing, bridge.Inbound, "+358401234567"))
	e.Transition(tr(2, "101", bridge.Talking, bridge.Inbound, "+358401234567"))
	p := e.Presence()
	if len(p) != 2 || p[0].Extension != "101" || p[0].Phone != cards.OnCall || !p[0].Since.Equal(t0.Add(2*time.Second)) || p[0].CurrentlyActive {
		t.Errorf("101: %+v", p[0])
	}
	if p[1].Extension != "102" || p[1].Phone != cards.Idle || !p[1].CurrentlyActive || p[1].Since != nil {
		t.Errorf("102: %+v", p[1])
	}
	e.Transition(tr(5, "101", bridge.HungUp, bridge.Inbound, "+358401234567"))
	if p := e.Presence(); p[0].Phone != cards.Idle || !p[0].Since.Equal(t0.Add(5*time.Second)) {
		t.Errorf("after: %+v", p[0])
	}
}

// OnCall (routing's when_free) is true from ringing to ended, per call;
// a call whose end was lost stops counting 12 hours after it was first
// seen, on the engine's clock, even with no transition since.
func TestOnCall(t *testing.T) {
	clock := cards.NewManualClock(t0)
	e := engine(t, crmsync.ScreenPop{}, clock)
	if e.OnCall("101") {
		t.Fatal("on a call before any")
	}
	c1 := tr(0, "101", bridge.Ringing, bridge.Inbound, "+358401234567")
	c2 := tr(0.5, "101", bridge.Talking, bridge.Inbound, "+358409999999")
	c2.CallID = "call-2"
	e.Transition(c1)
	e.Transition(c2)
	c1.State = bridge.HungUp
	e.Transition(c1)
	if !e.OnCall("101") || e.OnCall("102") {
		t.Fatal("wrong presence with call-2 connected")
	}
	if p := e.Presence(); !p[0].Busy || p[1].Busy {
		t.Errorf("busy: %+v", p)
	}
	c2.State = bridge.HungUp
	e.Transition(c2)
	if e.OnCall("101") {
		t.Fatal("on a call after every call ended")
	}
	c3 := tr(1, "101", bridge.Talking, bridge.Inbound, "+358401234567")
	c3.CallID = "call-3"
	e.Transition(c3)
	clock.Set(t0.Add(12*time.Hour + time.Minute))
	if e.OnCall("101") {
		t.Fatal("a call without an end counts for ever")
	}
}

// A card whose end the PBX never reported ends after 12 hours, at the
// agent's next call.
func TestStaleCardEnds(t *testing.T) {
	e := engine(t, crmsync.ScreenPop{}, nil)
	e.Transition(tr(0, "101", bridge.Ringing, bridge.Inbound, "+358401234567"))
	_, ch, cancel := e.Subscribe("101", 0, false)
	defer cancel()
	next := tr(13*3600, "101", bridge.Ringing, bridge.Inbound, "+358409999999")
	next.CallID = "call-2"
	e.Transition(next)
	if ev := <-ch; ev.Kind != cards.Ended || ev.Card.CallID != "call-1" {
		t.Errorf("first %s %s", ev.Kind, ev.Card.CallID)
	}
	if p := e.Presence(); p[0].Calls != 1 {
		t.Errorf("calls in progress %d", p[0].Calls)
	}
}

// Of several cards never ended, each ends once it is 12 hours old, the
// oldest first, at whatever transition of the agent's comes next.
func TestStaleCardsEndInTurn(t *testing.T) {
	e := engine(t, crmsync.ScreenPop{}, nil)
	at := func(hours float64, id string) {
		x := tr(hours*3600, "101", bridge.Ringing, bridge.Inbound, "+358401234567")
		x.CallID = id
		e.Transition(x)
	}
	open := func() int { return e.Presence()[0].Calls }
	at(0, "old")
	at(6, "younger")
	at(11, "third")
	if open() != 3 {
		t.Fatalf("%d calls in progress, want 3", open())
	}
	at(12.5, "fourth") // "old" is stale now, "younger" not yet
	if open() != 3 {
		t.Fatalf("at 12.5 h: %d calls in progress, want 3 (old ended, fourth begun)", open())
	}
	at(18.5, "fifth") // and now "younger"
	if open() != 3 {
		t.Fatalf("at 18.5 h: %d calls in progress, want 3 (younger ended, fifth begun)", open())
	}
}

// Resuming asks for at most Retain recent events, however many went by.
func TestRetain(t *testing.T) {
	e := cards.New(cards.Options{Retain: 4})
	for i := 0; i < 20; i++ {
		x := tr(float64(i), "101", bridge.Ringing, bridge.Inbound, "+358401234567")
		x.CallID = fmt.Sprint("c", i)
		e.Transition(x)
		x.State = bridge.HungUp
		e.Transition(x)
	}
	replay, _, cancel := e.Subscribe("101", 1, true)
	cancel()
	if len(replay) != 4 || replay[3].Card.CallID != "c19" || replay[3].Kind != cards.Ended {
		t.Errorf("%d events, last %+v", len(replay), replay[len(replay)-1])
	}
}

// sharedFinder hands out its own record, which it may change later (a
// refreshed index).
type sharedFinder struct{ recs []cards.Record }

func (f *sharedFinder) Find(connector, number string, entities []string) []cards.Record {
	if number != "+358401234567" {
		return nil
	}
	return f.recs
}

func (*sharedFinder) NewRecordURL(connector, entity, number string) string { return "" }

// An event keeps the card as it was sent: neither the card's later
// changes (connected, a transfer to another party with other records,
// ended) nor a change to what the finder returned reach an event already
// emitted, on the stream or replayed.
func TestEventsKeepTheirCard(t *testing.T) {
	f := &sharedFinder{recs: []cards.Record{{Connector: "dynamics", Entity: "contact", ID: "c1", Name: "Matti",
		Fields: map[string]string{"emailaddress1": "matti@example.com"}, URL: "https://crm.example.com/contact/c1"}}}
	search, _ := script.Parse("Search", "https://www.google.com/search?q=#(Caller number)", nil)
	e := cards.New(cards.Options{Normalizer: phone.NewNormalizer("FI"), Finder: f,
		Scripts: []cards.Scripts{{Connector: "dynamics", Templates: []*script.Template{search}}}})
	_, ch, cancel := e.Subscribe("101", 0, false)
	defer cancel()
	var sent []cards.Event
	var want []string
	take := func() {
		for len(ch) > 0 {
			ev := <-ch
			js, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			sent, want = append(sent, ev), append(want, string(js))
		}
	}
	e.Transition(tr(0, "101", bridge.Ringing, bridge.Inbound, "+358401234567"))
	take()
	f.recs[0].Name, f.recs[0].Fields["emailaddress1"], f.recs[0].URL = "changed", "changed", "changed"
	e.Transition(tr(2, "101", bridge.Talking, bridge.Inbound, "+358401234567"))
	take()
	// Transferred: the card is now about another party, with no records.
	e.Transition(tr(4, "101", bridge.Talking, bridge.Inbound, "+358409999999"))
	e.Transition(tr(6, "101", bridge.HungUp, bridge.Inbound, "+358409999999"))
	take()
	if len(sent) != 4 || sent[0].Card.Records[0].Name != "Matti" || len(sent[3].Card.Records) != 0 || sent[3].Card.EndedAt == nil {
		t.Fatalf("events %+v", sent)
	}
	replay, _, cancelReplay := e.Subscribe("101", 0, true)
	cancelReplay()
	if len(replay) != len(sent) {
		t.Fatalf("%d events replayed, %d sent", len(replay), len(sent))
	}
	for i := range sent {
		for _, ev := range []cards.Event{sent[i], replay[i]} {
			js, _ := json.Marshal(ev)
			if string(js) != want[i] {
				t.Errorf("event %d changed after it was sent:\n%s\nwas\n%s", i, js, want[i])
			}
		}
	}
}

// With two calls, the phone is on_call while either is connected and
// ringing again when the connected one ends with the other still ringing;
// a stale card's end counts too.
func TestPresenceOfTwoCalls(t *testing.T) {
	e := engine(t, crmsync.ScreenPop{}, nil)
	phoneOf := func() string { return e.Presence()[0].Phone }
	c1 := tr(0, "101", bridge.Ringing, bridge.Inbound, "+358401234567")
	c2 := tr(1, "101", bridge.Ringing, bridge.Inbound, "+358409999999")
	c2.CallID = "call-2"
	e.Transition(c1)
	e.Transition(c2)
	c2.State, c2.Time = bridge.Talking, c2.Time.Add(time.Second)
	e.Transition(c2)
	if got := phoneOf(); got != cards.OnCall {
		t.Fatalf("call-2 connected: %s", got)
	}
	c2.State, c2.Time = bridge.HungUp, c2.Time.Add(time.Second)
	e.Transition(c2)
	if got := phoneOf(); got != cards.Ringing {
		t.Fatalf("call-2 ended, call-1 ringing: %s", got)
	}
	c1.State, c1.Time = bridge.Talking, c1.Time.Add(4*time.Second)
	e.Transition(c1)
	if got := phoneOf(); got != cards.OnCall {
		t.Fatalf("call-1 connected: %s", got)
	}
	// call-1's end is lost; 13 hours on, a new call rings and call-1 is pruned.
	c3 := tr(13*3600, "101", bridge.Ringing, bridge.Inbound, "+358401234567")
	c3.CallID = "call-3"
	e.Transition(c3)
	if got := phoneOf(); got != cards.Ringing {
		t.Fatalf("call-1 pruned, call-3 ringing: %s", got)
	}
	c3.State = bridge.HungUp
	e.Transition(c3)
	if got := phoneOf(); got != cards.Idle {
		t.Fatalf("every call ended: %s", got)
	}
}
