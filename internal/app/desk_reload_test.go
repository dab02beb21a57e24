package app_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/app"
	"github.com/callbridge/callbridge/internal/cards"
)

// A reload puts new screen-pop rules, scripts and line names in force for
// the next call's card: policy.defaults.screen_pop.rules.inbound.url,
// crm[].scripts and ddi_names as the file now says, while the cards'
// streams stay open.
func TestReloadScreenPopsAndScripts(t *testing.T) {
	srv, err := fakeari.New(fakeari.Options{Username: "cb", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	conf := func(pop, script, line string) string {
		return fmt.Sprintf(`
state_dir: %s
ari: {url: %s, username: cb, password: pw, application: callbridge}
http: {listen: "127.0.0.1:0"}
trunks: [pstn]
default_region: FI
users: [{extension: "101", name: Alice}]
ddi_names: {"050111222": %s}
policy:
  defaults:
    screen_pop:
      rules:
        inbound: {connector: none, url: "%s"}
crm:
  - type: webhook
    webhook: {url: "http://127.0.0.1:9/hook", secret: hook-secret}
    scripts:
      - {name: %s, url: "https://search.example.com/?q=#(Caller number)"}
`, dir, srv.URL(), line, pop, script)
	}
	d, _, ctx, _ := runDaemon(t, dir, conf("https://crm.example.com/a?n=#(Caller number)", "Search", "Support"), zerolog.Nop())
	d.ConfigPath = filepath.Join(dir, "callbridge.yaml")
	// Once the API answers, Run has set up everything a reload replaces.
	waitFor(t, func() bool { return status(t, "http://"+d.Addr().String()+"/healthz", "") == 200 })
	desk := app.Desk(d)
	_, ch, cancel := desk.Subscribe("101", 0, false)
	defer cancel()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ring := func(call string) cards.Card {
		t.Helper()
		desk.Transition(bridge.Transition{Time: t0, CallID: call, User: "101", State: bridge.Ringing, Direction: bridge.Inbound,
			RemoteNumber: "+358401234567", DDI: "+35850111222"})
		for ev := range ch {
			if ev.Kind == cards.Offer && ev.Card.CallID == call {
				return ev.Card
			}
		}
		t.Fatal("the stream closed")
		return cards.Card{}
	}
	c := ring("c1")
	if c.PopURL != "https://crm.example.com/a?n=0401234567" || c.DDIName != "Support" || len(c.Scripts) != 1 || c.Scripts[0].Name != "Search" {
		t.Fatalf("before the reload: %+v", c)
	}
	if err := os.WriteFile(d.ConfigPath, []byte(conf("https://crm.example.com/b?e=#(Caller number:E164)", "Look up", "Sales")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.ReloadNow(ctx); err != nil {
		t.Fatal(err)
	}
	c = ring("c2")
	if c.PopURL != "https://crm.example.com/b?e=%2B358401234567" || c.DDIName != "Sales" || len(c.Scripts) != 1 || c.Scripts[0].Name != "Look up" ||
		c.Scripts[0].URL != "https://search.example.com/?q=0401234567" {
		t.Errorf("after the reload: %+v", c)
	}
}
