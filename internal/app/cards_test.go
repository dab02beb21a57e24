package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/app"
	"github.com/callbridge/callbridge/internal/cards"
	"github.com/callbridge/callbridge/internal/pipeline"
	"github.com/callbridge/callbridge/internal/secret"
)

// recorded is a source that plays a recording as fast as it is read.
type recorded string

func (r recorded) Run(_ context.Context, out func(bridge.Event)) error {
	f, err := os.Open(string(r))
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = ari.ReadRecording(f, out)
	return err
}

func recordingPath(name string) string {
	return filepath.Join("..", "..", "testdata", "recordings", name, "ari.jsonl")
}

// agentTokens are the agents' tokens of these tests.
var agentTokens = map[string]string{"101": "alice-token-0123456789abcdef", "102": "bob-token-0123456789abcdef"}

// cardScenario is a recorded call and the users whose cards it makes.
type cardScenario struct {
	recording string
	users     []string
	// placed: the call is one callbridge placed for 101 (click-to-dial).
	placed bool
}

var cardScenarios = []cardScenario{
	{"inbound_answered", []string{"101"}, false},
	{"inbound_missed_cancel", []string{"101"}, false},
	{"ring_group", []string{"101", "102"}, false}, // 101 loses the race to 102
	{"internal_answered", []string{"101", "102"}, false},
	{"outbound_answered", []string{"101"}, false},
	{"click_to_dial_originate", []string{"101"}, true},
}

// leg is what the engine said of one user's part in the call: when it
// rang, connected and ended, and whether the user placed it.
type leg struct {
	ring, connected, ended time.Time
	outbound               bool
}

func legs(t *testing.T, recording string) (callID string, out map[string]*leg) {
	t.Helper()
	f, err := os.Open(recordingPath(recording))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	eng := bridge.New(config.Default().EngineConfig())
	out = map[string]*leg{}
	ari.ReadRecording(f, func(ev bridge.Event) {
		for _, tr := range eng.Apply(ev) {
			if tr.Activity != nil {
				continue
			}
			callID = tr.CallID
			l := out[tr.User]
			if l == nil {
				l = &leg{ring: tr.Time, outbound: tr.Direction == bridge.Outbound}
				out[tr.User] = l
			}
			switch tr.State {
			case bridge.Talking:
				l.connected = tr.Time
			case bridge.HungUp:
				l.ended = tr.Time
			}
		}
	})
	return callID, out
}

type popCombo struct {
	open, close, outgoing string
	delay                 time.Duration
}

func (c popCombo) String() string {
	return fmt.Sprintf("open=%s,close=%s,open_outgoing=%s,delay=%s", c.open, c.close, c.outgoing, c.delay)
}

func combos() (valid, refused []popCombo) {
	for _, open := range []string{crmsync.PopOnCall, crmsync.PopOnConnected} {
		for _, cl := range []string{crmsync.PopNever, crmsync.PopOnConnected} {
			for _, out := range []string{crmsync.PopUser, crmsync.PopAlways} {
				for _, d := range []time.Duration{0, 2 * time.Second, 5 * time.Second} {
					c := popCombo{open, cl, out, d}
					if open == crmsync.PopOnConnected && cl == crmsync.PopOnConnected {
						refused = append(refused, c)
					} else {
						valid = append(valid, c)
					}
				}
			}
		}
	}
	return valid, refused
}

// expect is what the settings say a user's stream gets for their leg, in
// order: the rules of docs/agents.md, from the leg's own times.
func expect(c popCombo, l *leg, manual bool) string {
	type ev struct {
		at   time.Time
		kind string
	}
	evs := []ev{{l.ring, "offer"}}
	pops := !l.outbound || manual || c.outgoing == crmsync.PopAlways
	connected := !l.connected.IsZero()
	opened := false
	var openAt time.Time
	if pops && c.open == crmsync.PopOnCall {
		openAt = l.ring.Add(c.delay)
		switch {
		case c.close == crmsync.PopOnConnected && connected && !openAt.Before(l.connected) && c.delay > 0:
			// still waiting when the call connects: never opens
		case c.delay > 0 && !openAt.Before(l.ended):
			// the call ended first
		default:
			evs, opened = append(evs, ev{openAt, "open"}), true
		}
	}
	if connected {
		evs = append(evs, ev{l.connected, "connected"})
		if pops && c.open == crmsync.PopOnCall && c.close == crmsync.PopOnConnected && opened {
			evs = append(evs, ev{l.connected, "close"})
		}
		if pops && c.open == crmsync.PopOnConnected {
			if at := l.connected.Add(c.delay); c.delay == 0 || at.Before(l.ended) {
				evs = append(evs, ev{at, "open"})
			}
		}
	}
	evs = append(evs, ev{l.ended, "ended"})
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	var out []string
	for _, e := range evs {
		out = append(out, e.kind)
	}
	return strings.Join(out, ",")
}

func cardConfig(t *testing.T, c popCombo) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DefaultRegion = "FI"
	cfg.Trunks = []string{"pstn"}
	cfg.Users = []config.User{{Extension: "101", Name: "Alice"}, {Extension: "102", Name: "Bob"}, {Extension: "103", Name: "Carol"}}
	d := c.delay
	cfg.Policy.Defaults.ScreenPop = crmsync.ScreenPop{Open: c.open, Close: c.close, OpenOutgoing: c.outgoing, CallerCardDelay: &d}
	return cfg
}

// stream reads one agent's caller-card stream until an ended event.
func stream(t *testing.T, srv *httptest.Server, ext string) (<-chan string, func()) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/api/agents/"+ext+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+agentTokens[ext])
	resp, err := srv.Client().Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream of %s: %v %v", ext, resp, err)
	}
	out := make(chan string, 1)
	go func() {
		defer resp.Body.Close()
		var kinds []string
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if k, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				kinds = append(kinds, k)
				if k == cards.Ended {
					break
				}
			}
		}
		out <- strings.Join(kinds, ",")
	}()
	return out, func() { resp.Body.Close() }
}

// Every combination of open, close, open_outgoing and a delay, over the
// recorded calls, through the real path (the recording decoded, the
// engine, the live transitions, the caller cards, the SSE route): each
// user's stream gets exactly what the settings say. The delay runs on a
// clock set to each transition's own time, as it would have passed
// during the call.
func TestCardsOverRecordings(t *testing.T) {
	valid, refused := combos()
	for _, c := range refused {
		if err := cardConfig(t, c).Validate(); err == nil || !strings.Contains(err.Error(), "screen_pop.close") {
			t.Errorf("%s: accepted (%v)", c, err)
		}
	}
	set := api.TokenSet{Agents: map[string]secret.Secret{}}
	for ext, tok := range agentTokens {
		set.Agents[ext] = secret.Secret(tok)
	}
	for _, sc := range cardScenarios {
		callID, users := legs(t, sc.recording)
		for _, c := range valid {
			t.Run(sc.recording+"/"+c.String(), func(t *testing.T) {
				cfg := cardConfig(t, c)
				if err := cfg.Validate(); err != nil {
					t.Fatal(err)
				}
				clock := cards.NewManualClock(users[sc.users[0]].ring.Add(-time.Second))
				desk, err := app.NewDesk(cfg, clock)
				if err != nil {
					t.Fatal(err)
				}
				srv := httptest.NewServer(api.New(api.Deps{Auth: api.NewTokens(set, api.TokenOptions{Loopback: true}), Agents: desk}))
				t.Cleanup(srv.Close)
				got := map[string]<-chan string{}
				for _, u := range sc.users {
					ch, stop := stream(t, srv, u)
					t.Cleanup(stop)
					got[u] = ch
				}
				if sc.placed {
					desk.Placing(callID, "101", "0401234567")
				}
				p, err := pipeline.Build(pipeline.Parts{
					Sources: map[string]pipeline.Source{"ari": recorded(recordingPath(sc.recording))},
					Engine:  cfg.EngineConfig(), Normalizer: cfg.Normalizer(), Sink: discard{},
					Live: func(_ string, tr bridge.Transition) { clock.Set(tr.Time); desk.Transition(tr) },
				})
				if err != nil {
					t.Fatal(err)
				}
				if err := p.RunSources(context.Background()); err != nil {
					t.Fatal(err)
				}
				for _, u := range sc.users {
					want := expect(c, users[u], sc.placed)
					select {
					case g := <-got[u]:
						if g != want {
							t.Errorf("%s: %s, want %s", u, g, want)
						}
					case <-time.After(10 * time.Second):
						t.Fatalf("%s: the stream never ended (want %s)", u, want)
					}
				}
			})
		}
	}
}

type discard struct{}

func (discard) Write(bridge.Activity) error { return nil }

// The card of a recorded call, whole, from a configuration: an inbound
// call on a named line (ddi_names) popping its rule's URL, and a
// click-to-dial call, manual with the number asked for, popping the
// default rule's.
func TestCardContentOverRecordings(t *testing.T) {
	cfg := cardConfig(t, popCombo{crmsync.PopOnCall, crmsync.PopNever, crmsync.PopUser, 0})
	cfg.DDINames = map[string]string{"050111222": "Support"}
	cfg.Policy.Defaults.ScreenPop.Rules = crmsync.ScreenPopRules{
		Inbound: &crmsync.ScreenPopRule{Connector: crmsync.NoSearch, URL: "https://crm.example.com/pop?n=#(Caller number)&line=#(Ddi name)&by=#(Device name)"},
		Default: &crmsync.ScreenPopRule{Connector: crmsync.NoSearch, URL: "https://crm.example.com/dialled/#(Caller number:E164)"},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	desk, err := app.NewDesk(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	callID, _ := legs(t, "click_to_dial_originate")
	desk.Placing(callID, "101", "0401234567")
	_, ch, cancel := desk.Subscribe("101", 0, false)
	defer cancel()
	for _, rec := range []string{"inbound_answered", "click_to_dial_originate"} {
		p, _ := pipeline.Build(pipeline.Parts{Sources: map[string]pipeline.Source{"ari": recorded(recordingPath(rec))},
			Engine: cfg.EngineConfig(), Normalizer: cfg.Normalizer(), Sink: discard{},
			Live: func(_ string, tr bridge.Transition) { desk.Transition(tr) }})
		if err := p.RunSources(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	var offers []cards.Card
	for len(offers) < 2 {
		ev := <-ch
		if ev.Kind == cards.Offer {
			offers = append(offers, ev.Card)
		}
	}
	in, c2d := offers[0], offers[1]
	b, _ := json.Marshal(in)
	if in.Type != "inbound" || in.RemoteE164 != "+358401234567" || in.RemoteNational != "0401234567" || in.DDINumber != "+35850111222" ||
		in.DDIName != "Support" || in.DDINational != "050111222" || in.DeviceName != "Alice" || in.DeviceNumber != "101" ||
		in.PopURL != "https://crm.example.com/pop?n=0401234567&line=Support&by=Alice" {
		t.Errorf("inbound card %s", b)
	}
	b, _ = json.Marshal(c2d)
	if c2d.Type != "manual" || c2d.Direction != "outbound" || c2d.RemoteNumber != "0401234567" || c2d.RemoteName != "" || c2d.DDINumber != "" ||
		c2d.PopURL != "https://crm.example.com/dialled/+358401234567" { // the default rule: no manual one
		t.Errorf("click-to-dial card %s", b)
	}
}
