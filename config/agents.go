package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/internal/script"
)

// ClickToDial places calls for agents (POST /api/agents/{extension}/calls):
// Asterisk rings the agent's phone first and, once they pick up, dials
// the number from it through the dialplan.
type ClickToDial struct {
	// Enabled: agents may place calls. Default true (needs ari or ami;
	// the ARI user needs read_only = no, the AMI user write = originate).
	Enabled *bool `yaml:"enabled"`
	// Via is ari or ami; empty: ari when it is on, else ami.
	Via string `yaml:"via"`
	// Context is the dialplan context the number is dialled in once the
	// agent answers: the agent's outbound route. Default from-internal.
	Context string `yaml:"context"`
	// Technology rings the agent's device: Technology/<device>, the
	// device being the user's first endpoint, or the extension. Default
	// PJSIP.
	Technology string `yaml:"technology"`
	// CallerID is what the agent's phone shows while it rings ({number}:
	// the number to be dialled, {extension}: the agent's), and what the
	// far end is shown unless the outbound route sets it. Default
	// "{number}" <{number}>.
	CallerID string `yaml:"caller_id"`
	// RingTimeout is how long the agent's phone rings. Default 30s.
	RingTimeout time.Duration `yaml:"ring_timeout"`
}

// Click-to-dial defaults.
const (
	DefaultDialContext     = "from-internal"
	DefaultDialTechnology  = "PJSIP"
	DefaultDialCallerID    = `"{number}" <{number}>`
	DefaultDialRingTimeout = 30 * time.Second
)

// On reports whether click-to-dial is enabled.
func (d ClickToDial) On() bool { return d.Enabled == nil || *d.Enabled }

// DialSource is the interface calls are placed through: "ari", "ami", or ""
// when neither is on.
func (c *Config) DialSource() string {
	switch {
	case c.ClickToDial.Via != "":
		return c.ClickToDial.Via
	case c.ARI.On():
		return "ari"
	case c.AMI.On():
		return "ami"
	}
	return ""
}

// Device is the dial string of extension's phone (PJSIP/101), "" for a
// user the directory does not have. With no directory every extension
// matching extension_pattern is a user and its own device.
func (c *Config) Device(extension string) string {
	tech := c.ClickToDial.Technology
	for _, u := range c.Users {
		if u.Extension == extension {
			if len(u.Endpoints) > 0 {
				return tech + "/" + u.Endpoints[0]
			}
			return tech + "/" + extension
		}
	}
	if len(c.Users) == 0 && c.EngineConfig().ExtensionPattern.MatchString(extension) {
		return tech + "/" + extension
	}
	return ""
}

// DialCallerID is the caller id of a click-to-dial call to number for
// extension.
func (c *Config) DialCallerID(extension, number string) string {
	return strings.NewReplacer("{number}", number, "{extension}", extension).Replace(c.ClickToDial.CallerID)
}

// DDIName is the configured name of the number a caller dialled
// (ddi_names), "" when it has none. Keys and ddi match in any form that
// normalises to the same number. For many lookups, DDINamer.
func (c *Config) DDIName(ddi string) string { return c.DDINamer()(ddi) }

// DDINamer is DDIName with the keys normalised once, for the caller cards.
func (c *Config) DDINamer() func(ddi string) string {
	norm := c.Normalizer()
	byE164 := make(map[string]string, len(c.DDINames))
	for k, n := range c.DDINames {
		if e, ok := norm.Normalize(k); ok {
			byE164[e] = n
		}
	}
	names := c.DDINames
	return func(ddi string) string {
		if ddi == "" {
			return ""
		}
		if n, ok := names[ddi]; ok {
			return n
		}
		if e, ok := norm.Normalize(ddi); ok {
			return byE164[e]
		}
		return ""
	}
}

func (c *Config) deriveAgents() {
	d := &c.ClickToDial
	if d.Context == "" {
		d.Context = DefaultDialContext
	}
	if d.Technology == "" {
		d.Technology = DefaultDialTechnology
	}
	if d.CallerID == "" {
		d.CallerID = DefaultDialCallerID
	}
	if d.RingTimeout == 0 {
		d.RingTimeout = DefaultDialRingTimeout
	}
}

// validateAgents checks ddi_names, click_to_dial, and what the screen-pop
// rules and scripts name of the crm[] entries.
func (c *Config) validateAgents(v *validator) {
	norm := c.Normalizer()
	keys := make([]string, 0, len(c.DDINames))
	for k := range c.DDINames {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	seen := map[string]string{}
	for _, k := range keys {
		key := fmt.Sprintf("ddi_names[%q]", k)
		e, ok := norm.Normalize(k)
		if !ok {
			if strings.Trim(k, "+0123456789") != "" || k == "" {
				v.add(key, "not a phone number")
				continue
			}
			e = k // without default_region, matched as written
		}
		if prev, dup := seen[e]; dup {
			v.add(key, "the same number as ddi_names[%q]", prev)
		}
		seen[e] = k
		if strings.TrimSpace(c.DDINames[k]) == "" {
			v.add(key, "empty name")
		}
	}
	d := c.ClickToDial
	if d.On() {
		switch d.Via {
		case "":
		case "ari", "ami":
			if (d.Via == "ari" && !c.ARI.On()) || (d.Via == "ami" && !c.AMI.On()) {
				v.add("click_to_dial.via", "%q, but %s is not configured", d.Via, d.Via)
			}
		default:
			v.add("click_to_dial.via", "%q: want ari or ami", d.Via)
		}
		// These travel in AMI headers and ARI query strings: a line
		// break would start a header of its own.
		for _, f := range []struct{ key, v string }{{"context", d.Context}, {"technology", d.Technology}, {"caller_id", d.CallerID}} {
			if strings.ContainsAny(f.v, "\r\n") {
				v.add("click_to_dial."+f.key, "must not contain a line break")
			}
		}
		if strings.ContainsAny(d.Context, " ,/@") {
			v.add("click_to_dial.context", "%q is not a dialplan context", d.Context)
		}
		if d.Technology == "" || strings.Trim(d.Technology, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != "" {
			v.add("click_to_dial.technology", "%q: a channel technology such as PJSIP", d.Technology)
		}
		if d.RingTimeout < 5*time.Second || d.RingTimeout > 5*time.Minute {
			v.add("click_to_dial.ring_timeout", "%s: want 5s to 5m", d.RingTimeout)
		}
	}
	c.validateRules(v)
}

// validateRules checks each screen-pop rule against the crm[] entries:
// its connector has recognition, its entities are that connector's, its
// URL's placeholders are known.
func (c *Config) validateRules(v *validator) {
	byName := map[string]int{}
	first := -1
	for i, cc := range c.CRM {
		byName[cc.InstanceName()] = i
		if cc.Recognition != nil && first < 0 {
			first = i
		}
	}
	c.Policy.EachRule(func(key string, r crmsync.ScreenPopRule) {
		key = "policy." + key
		i := first
		switch r.Connector {
		case crmsync.NoSearch:
			i = -1
		case "":
			if first < 0 && (len(r.Entities) > 0 || r.AddNewRecord) {
				v.add(key+".connector", "no crm[] entry has recognition: nothing to search")
				return
			}
		default:
			j, ok := byName[r.Connector]
			if !ok || c.CRM[j].Recognition == nil {
				v.add(key+".connector", "%q is not a crm[] entry with recognition", r.Connector)
				return
			}
			i = j
		}
		fields := map[string]bool{}
		if i >= 0 {
			fields = c.CRM[i].Fields()
			ents := c.CRM[i].Recognition.Entities
			if len(ents) == 0 {
				ents = phoneindex.DefaultEntities()
			}
			for n, e := range r.Entities {
				if !slices.ContainsFunc(ents, func(x phoneindex.Entity) bool { return x.Name == e }) {
					v.add(fmt.Sprintf("%s.entities[%d]", key, n), "%q is not one of %s's recognition entities", e, c.CRM[i].InstanceName())
				}
			}
		}
		if r.URL != "" {
			t, err := script.Parse("screen pop", r.URL, func(f string) bool { return fields[f] })
			if err != nil {
				v.add(key+".url", "%v", err)
			} else if t.NeedsRecord() && i < 0 {
				v.add(key+".url", "uses a record's $(…) field, but the rule searches no CRM")
			}
		}
	})
}
