package connectors_test

import (
	"strings"
	"testing"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/connectors"
	"github.com/callbridge/callbridge/crmsync/dynamics"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/crmsync/webhook"
)

func dyn() *dynamics.Config {
	return &dynamics.Config{URL: "https://contoso.crm4.dynamics.com", TenantID: "t", ClientID: "c", ClientSecret: "s"}
}

// A Dynamics connector with recognition offers "Open record" first; a
// script of the same name replaces it; record fields are the recognition
// entities' fields.
func TestScriptTemplates(t *testing.T) {
	ents := phoneindex.DefaultEntities()
	ents[0].Fields = []string{"emailaddress1"}
	c := connectors.ConnectorConfig{Type: "dynamics", Settings: dyn(), Recognition: &phoneindex.Settings{Entities: ents},
		Scripts: []crmsync.Script{{Name: "Mail", URL: "mailto:$(EmailAddress1)"}, {Name: "Search", URL: "https://www.google.com/search?q=#(Caller number)"}}}
	ts, err := c.ScriptTemplates()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range ts {
		names = append(names, s.Name())
	}
	if strings.Join(names, ",") != dynamics.OpenRecord+",Mail,Search" {
		t.Errorf("scripts %v", names)
	}
	c.Scripts = append(c.Scripts, crmsync.Script{Name: dynamics.OpenRecord, URL: "https://example.com/#(Caller number)"})
	if ts, _ := c.ScriptTemplates(); len(ts) != 3 || ts[2].NeedsRecord() {
		t.Errorf("replaced preset: %v", ts)
	}
	// Without recognition there is no record: no preset, no fields.
	c.Recognition = nil
	c.Scripts = c.Scripts[1:2]
	if ts, err := c.ScriptTemplates(); err != nil || len(ts) != 1 {
		t.Errorf("no recognition: %v %v", ts, err)
	}
}

// Script problems are config errors naming the key and the script.
func TestScriptErrors(t *testing.T) {
	c := connectors.ConnectorConfig{Type: "webhook", Settings: &webhook.Config{URL: "https://crm.example.com/h", Secret: "s"},
		Scripts: []crmsync.Script{
			{Name: "Open", URL: "https://crm.example.com/r/$(Id)?x=#(Caller nmbr)"},
			{Name: "Open", URL: "https://crm.example.com/r/$(emailaddress1)"},
			{Name: "", URL: ""},
			{Name: "Id", URL: "https://crm.example.com/r/$(Id)"},
		}}
	err := c.Validate()
	for _, want := range []string{
		`scripts[0].url: script "Open": #(Caller nmbr) is not a placeholder`,
		`scripts[1].name: "Open" is also scripts[0]'s`,
		`scripts[1].url: script "Open" uses a record's $(…) field, but this connector has no recognition`,
		"scripts[2].name: required",
		`scripts[3].url: script "Id" uses a record's $(…) field, but this connector has no recognition`,
		"scripts[2].url: required",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
