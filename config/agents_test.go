package config

import (
	"strings"
	"testing"
	"time"
)

// The agents' keys: their defaults, the helpers that read them, and each
// problem named by its key.
func TestAgentsDefaults(t *testing.T) {
	c := Default()
	d := c.ClickToDial
	if !d.On() || d.Context != "from-internal" || d.Technology != "PJSIP" || d.CallerID != `"{number}" <{number}>` || d.RingTimeout != 30*time.Second {
		t.Errorf("click_to_dial defaults %+v", d)
	}
	if c.DialSource() != "" {
		t.Errorf("no source: %q", c.DialSource())
	}
	c.AMI.Host = "pbx"
	if c.DialSource() != "ami" {
		t.Errorf("ami only: %q", c.DialSource())
	}
	c.ARI.URL, c.ARI.Enabled = "http://127.0.0.1:8088/ari", nil
	c.derive()
	if c.DialSource() != "ari" {
		t.Errorf("both: %q", c.DialSource())
	}
	c.ClickToDial.Via = "ami"
	if c.DialSource() != "ami" {
		t.Errorf("via ami: %q", c.DialSource())
	}
}

func TestAgentsHelpers(t *testing.T) {
	c := Default()
	c.DefaultRegion = "FI"
	c.DDINames = map[string]string{"+35850111222": "Support", "050111333": "Sales"}
	for ddi, want := range map[string]string{"+35850111222": "Support", "050111222": "Support", "+35850111333": "Sales", "+35850111444": "", "": ""} {
		if got := c.DDIName(ddi); got != want {
			t.Errorf("DDIName(%q) = %q, want %q", ddi, got, want)
		}
	}
	if got := c.DialCallerID("101", "0401234567"); got != `"0401234567" <0401234567>` {
		t.Errorf("caller id %s", got)
	}
	c.ClickToDial.CallerID = `"Call {number}" <{extension}>`
	if got := c.DialCallerID("101", "0401234567"); got != `"Call 0401234567" <101>` {
		t.Errorf("caller id %s", got)
	}
	// No directory: any extension of the pattern is its own device.
	if c.Device("101") != "PJSIP/101" || c.Device("alice") != "" {
		t.Errorf("devices without a directory: %q %q", c.Device("101"), c.Device("alice"))
	}
	c.Users = []User{{Extension: "101", Endpoints: []string{"101-desk", "101-soft"}}, {Extension: "102"}}
	c.ClickToDial.Technology = "SIP"
	if c.Device("101") != "SIP/101-desk" || c.Device("102") != "SIP/102" || c.Device("103") != "" {
		t.Errorf("devices: %q %q %q", c.Device("101"), c.Device("102"), c.Device("103"))
	}
}

func TestAgentsValidate(t *testing.T) {
	c, err := loadIn(t, `
default_region: FI
ddi_names:
	"+35850111222": Support
	"050111222": Support again
	"support": x
	"+35850111333": " "
click_to_dial:
	via: ami
	context: "from internal"
	technology: "PJ SIP"
	caller_id: "x\r\nAction: Command"
	ring_timeout: 1s
crm:
	- name: hook
	  type: webhook
	  webhook: {url: "https://crm.example.com/h", secret: s}
	  scripts:
	    - {name: Bad, url: "https://crm.example.com/?q=#(Caller nmbr)"}
	- name: dynamics
	  type: dynamics
	  dynamics: {url: "https://contoso.crm4.dynamics.com", tenant_id: t, client_id: c, client_secret: s}
	  recognition:
	    entities:
	      - {name: contact, entity_set: contacts, key: contactid, name_field: fullname, phone_fields: [telephone1], fields: [emailaddress1], type: person}
policy:
	defaults:
	  screen_pop:
	    rules:
	      inbound: {connector: dynamics, entities: [contact, lead], url: "https://x.example.com/$(accountnumber)"}
	      outbound: {connector: hook}
	      internal: {connector: none, url: "https://x.example.com/$(Id)"}
	users:
	  "101":
	    screen_pop:
	      rules:
	        default: {connector: nosuch}
`, nil, nil)
	if err == nil {
		t.Fatalf("accepted: %+v", c)
	}
	for _, want := range []string{
		`ddi_names["050111222"]: the same number as ddi_names["+35850111222"]`,
		`ddi_names["support"]: not a phone number`,
		`ddi_names["+35850111333"]: empty name`,
		`click_to_dial.via: "ami", but ami is not configured`,
		`click_to_dial.context: "from internal" is not a dialplan context`,
		`click_to_dial.technology: "PJ SIP"`,
		`click_to_dial.caller_id: must not contain a line break`,
		`click_to_dial.ring_timeout: 1s: want 5s to 5m`,
		`crm[0].scripts[0].url: script "Bad": #(Caller nmbr) is not a placeholder`,
		`policy.defaults.screen_pop.rules.inbound.entities[1]: "lead" is not one of dynamics's recognition entities`,
		`policy.defaults.screen_pop.rules.inbound.url: script "screen pop": $(accountnumber) is not a field`,
		`policy.defaults.screen_pop.rules.outbound.connector: "hook" is not a crm[] entry with recognition`,
		`policy.defaults.screen_pop.rules.internal.url: uses a record's $(…) field, but the rule searches no CRM`,
		`policy.users["101"].screen_pop.rules.default.connector: "nosuch" is not a crm[] entry with recognition`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(err)
	}
	// Click-to-dial off: its keys are not checked.
	c, err = loadIn(t, "click_to_dial:\n\tenabled: false\n\tring_timeout: 1s\n", nil, nil)
	if err != nil || c.ClickToDial.On() {
		t.Errorf("off: %v %+v", err, c.ClickToDial)
	}
}
