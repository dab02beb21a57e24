package app

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/ari/ami/fakeami"
	"github.com/callbridge/callbridge/config"
)

// click_to_dial's keys reach the PBX: via picks the interface, context,
// technology (with the user's first endpoint), caller_id and ring_timeout
// make the originate; enabled: false turns it off.
func TestClickToDialKeys(t *testing.T) {
	var got url.Values
	pbx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Query()
		w.Write([]byte(`{"id": "x"}`))
	}))
	defer pbx.Close()
	cfg := config.Default()
	cfg.ARI = config.ARI{URL: pbx.URL + "/ari", Application: "callbridge", Username: "cb", Password: "pw"}
	cfg.AMI = config.AMI{Host: "127.0.0.1", Port: 5038, Username: "cb", Secret: "pw"}
	cfg.Users = []config.User{{Extension: "101", Endpoints: []string{"101-desk"}}}
	cfg.ClickToDial = config.ClickToDial{Context: "agents-out", Technology: "SIP", CallerID: `"Call {number}" <{extension}>`, RingTimeout: 45 * time.Second}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := clickToDial(cfg, zerolog.Nop())
	if err != nil || c == nil {
		t.Fatalf("%v %v", c, err)
	}
	if _, ok := c.Dialer.(*ari.Originator); !ok {
		t.Errorf("both sources on, no via: %T, want ARI's", c.Dialer)
	}
	dev := c.Device("101")
	if err := c.Dialer.Originate(context.Background(), "cb-1", dev, "0401234567", c.CallerID("101", "0401234567")); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"endpoint": "SIP/101-desk", "extension": "0401234567", "context": "agents-out",
		"callerId": `"Call 0401234567" <101>`, "timeout": "45", "channelId": "cb-1"} {
		if got.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, got.Get(k), want)
		}
	}

	// via: ami, against a fake AMI that has the context: the Originate
	// names it (one it lacks is refused).
	o, err := fakeami.LoadOriginate(filepath.Join("..", "..", "testdata", "lab", "ami_click_to_dial_answered"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fakeami.Start(fakeami.Config{Username: "cb", Secret: "pw", Endpoints: []string{"101-desk"}, Contexts: []string{"agents-out"}, Originate: o})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg.ClickToDial.Via = "ami"
	cfg.AMI.Port = srv.Port()
	c, err = clickToDial(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Dialer.(*ami.Originator); !ok {
		t.Fatalf("via ami: %T", c.Dialer)
	}
	if err := c.Dialer.Originate(context.Background(), "cb-2", "SIP/101-desk", "0401234567", "x"); err == nil || !errors.As(err, new(*ami.Refused)) {
		// SIP is not a technology the fake (nor Asterisk 22) has.
		t.Errorf("SIP/101-desk over AMI: %v", err)
	}
	if err := c.Dialer.Originate(context.Background(), "cb-3", "PJSIP/101-desk", "0401234567", "x"); err != nil {
		t.Errorf("in agents-out: %v", err)
	}
	cfg.ClickToDial.Context = "elsewhere"
	c, _ = clickToDial(cfg, zerolog.Nop())
	var r *ami.Refused
	if err := c.Dialer.Originate(context.Background(), "cb-4", "PJSIP/101-desk", "0401234567", "x"); !errors.As(err, &r) || r.Reason != "Extension does not exist." {
		t.Errorf("in a context the PBX lacks: %v", err)
	}

	off := false
	cfg.ClickToDial.Enabled = &off
	if c, err := clickToDial(cfg, zerolog.Nop()); c != nil || err != nil {
		t.Errorf("enabled: false: %v %v", c, err)
	}
}
