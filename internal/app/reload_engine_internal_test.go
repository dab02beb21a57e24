package app

import (
	"testing"

	"github.com/callbridge/callbridge/config"
)

// Each setting the engines read makes a reload reconfigure them; the
// privacy rules too, which a reload once left as they were.
func TestEngineChanged(t *testing.T) {
	base := func() *config.Config {
		return &config.Config{
			ExtensionPattern: `^\d{3}$`,
			Trunks:           []string{"pstn"},
			Users:            []config.User{{Extension: "101", Name: "Alice"}},
		}
	}
	if engineChanged(base(), base()) {
		t.Error("the same settings reconfigure the engines")
	}
	for name, edit := range map[string]func(*config.Config){
		"users":             func(c *config.Config) { c.Users[0].Name = "Alice B" },
		"extension_pattern": func(c *config.Config) { c.ExtensionPattern = `^\d{4}$` },
		"trunks":            func(c *config.Config) { c.Trunks = append(c.Trunks, "sip-provider") },
		"default_region":    func(c *config.Config) { c.DefaultRegion = "FI" },
		"privacy.prefixes": func(c *config.Config) {
			c.Privacy.Prefixes = []config.PrivacyPrefix{{Prefix: "*67", Class: "private"}}
		},
		"privacy.numbers": func(c *config.Config) {
			c.Privacy.Numbers = []config.PrivacyNumber{{Number: "+35850111222", Class: "private"}}
		},
	} {
		next := base()
		edit(next)
		if !engineChanged(base(), next) {
			t.Errorf("a change of %s leaves the engines as they were", name)
		}
	}
}
