package app

import (
	"fmt"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/pipeline"
	"github.com/callbridge/callbridge/sip/dialog"
	"github.com/callbridge/callbridge/sip/hep"
	"github.com/callbridge/callbridge/sip/subscribe"
)

// buildSources makes the configured sources: the decode stage of the path,
// one per way of attaching to Asterisk. Nothing connects until Run.
func buildSources(cfg *config.Config, log zerolog.Logger, reg prometheus.Registerer) (map[string]pipeline.Source, error) {
	sources := map[string]pipeline.Source{}
	if cfg.ARI.On() {
		s, err := newARI(cfg, log, reg)
		if err != nil {
			return nil, err
		}
		sources["ari"] = s
	}
	if cfg.AMI.On() {
		c, err := newAMI(cfg, log, reg)
		if err != nil {
			return nil, err
		}
		sources["ami"] = c
	}
	if cfg.SIP.On() {
		c, err := hep.New(hepConfig(cfg, log, reg))
		if err != nil {
			return nil, err
		}
		sources["sip"] = c
	}
	if len(sources) == 0 {
		return nil, config.ErrNoSource
	}
	return sources, nil
}

func newARI(cfg *config.Config, log zerolog.Logger, reg prometheus.Registerer) (*ari.Source, error) {
	return ari.NewSource(ari.Config{URL: cfg.ARI.URL, Application: cfg.ARI.Application,
		Username: cfg.ARI.Username, Password: cfg.ARI.Password.Value(),
		Logger: log.With().Str("source", "ari").Logger()}, reg)
}

func newAMI(cfg *config.Config, log zerolog.Logger, reg prometheus.Registerer) (*ami.Client, error) {
	return ami.New(ami.Config{Host: cfg.AMI.Host, Port: cfg.AMI.Port, Username: cfg.AMI.Username,
		Secret: cfg.AMI.Secret.Value(), MD5: true, TLS: cfg.AMI.TLS,
		Logger: log.With().Str("source", "ami").Logger()}, reg)
}

// hepConfig is the HEP listener's configuration and its SIP tracker's.
func hepConfig(cfg *config.Config, log zerolog.Logger, reg prometheus.Registerer) hep.Config {
	dc := dialog.Config{ExtensionPattern: cfg.EngineConfig().ExtensionPattern}
	for _, u := range cfg.Users {
		dc.Users = append(dc.Users, u.Extension)
	}
	for _, a := range cfg.SIP.PBXAddresses {
		if ap, ok := addrPort(a); ok {
			dc.PBX = append(dc.PBX, ap)
		} else {
			log.Warn().Str("address", a).Msg("sip.pbx_addresses: prefixes are not used by the SIP tracker yet; give an IP or IP:port")
		}
	}
	for _, a := range cfg.SIP.TrunkAddresses {
		if ap, ok := addrPort(a); ok {
			dc.Trunks = append(dc.Trunks, dialog.Trunk{Addr: ap})
		} else {
			log.Warn().Str("address", a).Msg("sip.trunk_addresses: prefixes are not used by the SIP tracker yet; give an IP or IP:port")
		}
	}
	if len(cfg.Trunks) > 0 {
		dc.TrunkName = cfg.Trunks[0]
	}
	hc := hep.Config{Dialog: dc, Logger: log.With().Str("source", "sip").Logger(), Registerer: reg}
	if len(cfg.SIP.HEPListenUDP) > 0 {
		hc.UDP = cfg.SIP.HEPListenUDP[0]
	}
	if len(cfg.SIP.HEPListenTCP) > 0 {
		hc.TCP = cfg.SIP.HEPListenTCP[0]
	}
	return hc
}

// buildSubscriber makes the SIP dialog-event subscriber, when sip.subscribe
// is set up: a second feed of live states for screen pops, beside the
// engine's.
func buildSubscriber(cfg *config.Config, log zerolog.Logger, reg prometheus.Registerer, live *hub) (*subscribe.Subscriber, error) {
	sc := cfg.SIP.Subscribe
	if !sc.On() {
		return nil, nil
	}
	exts := sc.Extensions
	if len(exts) == 0 {
		for _, u := range cfg.Users {
			exts = append(exts, u.Extension)
		}
	}
	sub, err := subscribe.New(subscribe.Config{PBX: sc.PBX, Listen: sc.Listen, Contact: sc.Contact, Extensions: exts,
		Expiry: sc.Expiry, Username: sc.Username, Password: sc.Password.Value(),
		OnTransition: func(tr bridge.Transition) { live.publish("dialog", tr) },
		Logger:       log.With().Str("source", "dialog").Logger(), Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("sip.subscribe: %w", err)
	}
	return sub, nil
}

// addrPort reads "IP" (any port) or "IP:port".
func addrPort(s string) (netip.AddrPort, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, true
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(ip, 0), true
	}
	return netip.AddrPort{}, false
}
