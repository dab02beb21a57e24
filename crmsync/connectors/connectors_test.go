package connectors_test

import (
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"

	"github.com/callbridge/callbridge/crmsync/connectors"
	"github.com/callbridge/callbridge/crmsync/dynamics"
	"github.com/callbridge/callbridge/crmsync/webhook"
)

// Every registered type decodes its section by its own name and builds a
// connector of that name.
func TestEveryTypeDecodesItsSection(t *testing.T) {
	for _, typ := range connectors.Names() {
		var c connectors.ConnectorConfig
		if err := yaml.Unmarshal([]byte("type: "+typ+"\nname: x\n"+typ+": {}\n"), &c); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if c.Settings == nil || c.InstanceName() != "x" {
			t.Errorf("%s: settings %v, name %q", typ, c.Settings, c.InstanceName())
		}
	}
}

func TestBuild(t *testing.T) {
	hook := &webhook.Config{URL: "https://crm.example.com/h", Secret: "s"}
	conns, err := connectors.Build([]connectors.ConnectorConfig{{Type: "webhook", Settings: hook}}, connectors.Deps{Logger: zerolog.Nop()}, nil)
	if err != nil || len(conns) != 1 || conns[0].Name() != "webhook" {
		t.Fatalf("%v %v", conns, err)
	}
	_, err = connectors.Build([]connectors.ConnectorConfig{
		{Type: "webhook", Settings: hook},
		{Type: "webhook", Settings: hook},
		{Type: "webhook", Settings: &dynamics.Config{}},
		{Type: "salesforce"},
	}, connectors.Deps{Logger: zerolog.Nop()}, nil)
	for _, want := range []string{
		`crm[1].name: "webhook" used twice`,
		"crm[2].webhook: settings are a *dynamics.Config, want a *webhook.Config",
		`crm[3].type: "salesforce" unknown (known: [dynamics webhook])`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
