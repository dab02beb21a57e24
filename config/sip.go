package config

import (
	"github.com/callbridge/callbridge/sip/dialog"
)

// DialogConfig is the SIP dialog tracker's configuration: the PBX and
// trunk addresses (learnt from the traffic when not set), the user
// directory or extension pattern, the trunk endpoint name and the
// conference rooms. `run` (HEP) and `replay --pcap` both use it, so a
// capture replays as the live source would have read it. It assumes
// Validate passed; addresses that do not parse are left out.
func (c *Config) DialogConfig() dialog.Config {
	dc := dialog.Config{ExtensionPattern: c.EngineConfig().ExtensionPattern}
	for _, u := range c.Users {
		dc.Users = append(dc.Users, u.Extension)
	}
	for _, s := range c.SIP.PBXAddresses {
		if a, err := dialog.ParseAddr(s); err == nil {
			dc.PBX = append(dc.PBX, a)
		}
	}
	for _, s := range c.SIP.TrunkAddresses {
		if a, err := dialog.ParseAddr(s); err == nil {
			dc.Trunks = append(dc.Trunks, dialog.Trunk{Addr: a})
		}
	}
	if len(c.Trunks) > 0 {
		dc.TrunkName = c.Trunks[0]
	}
	for room, numbers := range c.SIP.Conferences {
		if dc.Conferences == nil {
			dc.Conferences = map[string]string{}
		}
		for _, n := range numbers {
			dc.Conferences[n] = room
		}
	}
	return dc
}
