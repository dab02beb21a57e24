package app

import (
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/config"
)

// The allowed-sources keys reach the listeners: sip.hep_allowed_sources
// the HEP collector's, sip.subscribe.allowed_sources the subscriber's
// (without them its wildcard listener is refused).
func TestCaptureListenersGetAllowedSources(t *testing.T) {
	cfg := config.Default()
	cfg.SIP.HEPListenUDP = []string{"0.0.0.0:0"}
	cfg.SIP.HEPAllowedSources = []string{"127.0.0.1/32", "192.0.2.0/24"}
	hc := hepConfig(cfg, zerolog.Nop(), nil)
	for a, want := range map[string]bool{"127.0.0.1": true, "192.0.2.77": true, "127.0.0.2": false} {
		if got := hc.AllowedSources.Allows(netip.MustParseAddr(a)); got != want {
			t.Errorf("hep: %s allowed %v, want %v", a, got, want)
		}
	}

	cfg.SIP.Subscribe = config.Subscribe{PBX: "127.0.0.1:9", Listen: "0.0.0.0:0", Extensions: []string{"101"}, Expiry: config.DefaultSubscribeExpiry}
	if sub, err := buildSubscriber(cfg, zerolog.Nop(), prometheus.NewRegistry(), &hub{}); err == nil {
		sub.Close()
		t.Fatal("subscriber on a wildcard without allowed sources started")
	}
	cfg.SIP.Subscribe.AllowedSources = []string{"127.0.0.1"}
	sub, err := buildSubscriber(cfg, zerolog.Nop(), prometheus.NewRegistry(), &hub{})
	if err != nil {
		t.Fatal(err)
	}
	sub.Close()
}
