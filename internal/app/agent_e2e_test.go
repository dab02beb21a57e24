package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/crmsync/dynamics/fakedataverse"
	"github.com/callbridge/callbridge/internal/cards"
)

// browser starts headless Chromium (Debian's chromium) with a fresh
// profile and no network of its own beyond what the page asks for.
func browser(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if bin, err = exec.LookPath("chromium-browser"); err != nil {
			t.Fatal("chromium not found in PATH; install it: apt-get install -y chromium (.ci/test does)")
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1100, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	return ctx, func() { cancelTime(); cancelCtx(); cancelAlloc() }
}

// The agent's page in a real browser: Alice signs in with her token (a
// cookie from then on), an inbound call is played through the whole
// daemon (fake ARI, engine, caller cards, the caller recognised in a fake
// Dynamics), her card opens with the caller's name, line and a script
// link, and closes when she answers (close: connected). The screenshots
// are saved and their paths printed; the folder is kept when the test
// fails, or with CALLBRIDGE_KEEP_SCREENSHOTS=1.
func TestAgentPageInChromium(t *testing.T) {
	rec, err := fakeari.LoadRecording(recordingPath("inbound_answered"))
	if err != nil {
		t.Fatal(err)
	}
	answer := -1 // Alice's phone joins the bridge: the call connects
	for i, l := range rec.Lines {
		if strings.Contains(string(l), `"type":"ChannelEnteredBridge"`) {
			answer = i
			break
		}
	}
	ari, err := fakeari.New(fakeari.Options{Recordings: []fakeari.Recording{rec}, AwaitList: true, Username: "cb", Password: "pw",
		PauseBefore: []int{answer}})
	if err != nil {
		t.Fatal(err)
	}
	defer ari.Close()

	dv := httptest.NewUnstartedServer(nil)
	dv.Start()
	defer dv.Close()
	fake := fakedataverse.New(fakedataverse.Options{ClientID: "app", ClientSecret: "dv-secret", Scope: dv.URL + "/.default"})
	dv.Config.Handler = fake
	fake.AddRecord("contacts", fakedataverse.Record{"contactid": "00000000-0000-4000-8000-00000000c0c0", "fullname": "Matti Meikäläinen",
		"mobilephone": "040 123 4567", "emailaddress1": "matti@example.com"})

	dir := t.TempDir()
	writeToken(t, dir, "admin.token", adminToken)
	writeToken(t, dir, "alice.token", agentTokens["101"])
	d, _, ctx, _ := runDaemon(t, dir, fmt.Sprintf(`
state_dir: %s
ari: {url: %s, username: cb, password: pw}
trunks: [pstn]
default_region: FI
users:
  - {extension: "101", name: Alice Andersson, token_file: alice.token}
ddi_names: {"+35850111222": Support}
http: {listen: "127.0.0.1:0", admin_token_file: admin.token}
policy:
  defaults:
    screen_pop: {open: call, close: connected}
crm:
  - type: dynamics
    dynamics:
      url: %s
      tenant_id: contoso.onmicrosoft.com
      token_url: %s/contoso.onmicrosoft.com/oauth2/v2.0/token
      client_id: app
      client_secret: dv-secret
    recognition:
      region: FI
      enabled: true
      entities:
        - {name: contact, entity_set: contacts, key: contactid, name_field: fullname, phone_fields: [mobilephone], fields: [emailaddress1], type: person}
    scripts:
      - {name: Search the web, url: "https://www.google.com/search?q=#(Caller number:E164)"}
`, dir, ari.URL(), dv.URL, dv.URL), zerolog.Nop())
	base := "http://" + d.Addr().String()
	waitFor(t, func() bool { return strings.Contains(get(t, base+"/api/callername?number=%2B358401234567"), "Matti") })

	shots, err := os.MkdirTemp("", "callbridge-agent-page-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", shots)
	t.Cleanup(func() {
		if !t.Failed() && os.Getenv("CALLBRIDGE_KEEP_SCREENSHOTS") == "" {
			os.RemoveAll(shots)
		}
	})
	bctx, cancel := browser(t)
	defer cancel()
	shot := func(name string) {
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // 100: PNG; less is JPEG
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
			return
		}
		path := filepath.Join(shots, name)
		fmt.Println("screenshot:", path)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Error(err)
		}
	}
	defer func() {
		if t.Failed() {
			shot("failed.png")
		}
	}()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.TextContent(css(sel)))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return s
	}
	attr := func(sel, name string) string {
		t.Helper()
		a, err := chromedp.Run(bctx, chromedp.AttributeValue(css(sel), name))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return a.Value
	}

	// Sign in with the token: the page keeps a cookie, never the token.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/agent"),
		chromedp.WaitVisible(css("#signin")),
		chromedp.SendKeys(css("#token"), agentTokens["101"]),
		// A click, as a user would: it fires the form's submit handler
		// (Submit would post the form itself, past the page's script).
		chromedp.Click(css(`#signin-form button[type="submit"]`)),
		chromedp.WaitVisible(css("#desk")),
		chromedp.WaitVisible(css("#link.on")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	waitFor(t, func() bool {
		var p []cards.Presence
		return json.Unmarshal([]byte(call(t, "GET", base+"/api/agents", adminToken)), &p) == nil && len(p) == 1 && p[0].CurrentlyActive
	})

	// The call rings: the card opens with the caller's name, the line and
	// the script; playback holds before Alice answers.
	played := make(chan error, 1)
	go func() { played <- ari.Play(ctx) }()
	if err := chromedp.Do(bctx, chromedp.WaitVisible(css(`#card[data-state="open"] .content`))); err != nil {
		t.Fatalf("the card never opened: %v", err)
	}
	scripts, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]string](
		`Object.fromEntries([...document.querySelectorAll("#card .scripts a")].map(a => [a.textContent, a.href]))`))
	if err != nil {
		t.Fatal(err)
	}
	name, line, script, pop := text("#card .name"), text("#card .line"), scripts["Search the web"], attr("#card .pop a", "href")
	shot("agent-card-open.png")
	if name != "Matti Meikäläinen" || line != "Support" || script != "https://www.google.com/search?q=%2B358401234567" ||
		!strings.Contains(pop, "/main.aspx?pagetype=entityrecord&etn=contact&id=00000000-0000-4000-8000-00000000c0c0") {
		t.Errorf("card: name %q, line %q, script %q, pop %q", name, line, script, pop)
	}
	if !strings.HasSuffix(scripts["Open record"], "/main.aspx?pagetype=entityrecord&etn=contact&id=00000000-0000-4000-8000-00000000c0c0") {
		t.Errorf("scripts %v", scripts)
	}

	// Alice answers: the card closes.
	ari.Resume()
	if err := chromedp.Do(bctx,
		chromedp.WaitVisible(css(`#card[data-state="closed"] .idle`)),
		chromedp.WaitVisible(css(`#calls li.ended`)),
	); err != nil {
		t.Fatalf("after the answer: %v", err)
	}
	shot("agent-card-closed.png")
	if calls := text("#calls"); !strings.Contains(calls, "Matti Meikäläinen") {
		t.Errorf("calls list %q", calls)
	}
	if err := <-played; err != nil {
		t.Fatal(err)
	}
}
