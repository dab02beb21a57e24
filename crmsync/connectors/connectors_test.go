package connectors_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"

	"github.com/callbridge/callbridge/crmsync/connectors"
	"github.com/callbridge/callbridge/crmsync/dynamics"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/crmsync/salesforce"
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
		{Type: "sugarcrm"},
	}, connectors.Deps{Logger: zerolog.Nop()}, nil)
	for _, want := range []string{
		`crm[1].name: "webhook" used twice`,
		"crm[2].webhook: settings are a *dynamics.Config, want a *webhook.Config",
		`crm[3].type: "sugarcrm" unknown (known: ` + fmt.Sprint(connectors.Names()) + `)`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestValidate(t *testing.T) {
	sf := &salesforce.Config{URL: "https://acme.my.salesforce.com", ClientID: "c", ClientSecret: "s"}
	tests := []struct {
		name string
		yaml string
		cfg  connectors.ConnectorConfig
		want []string
	}{
		{"unknown type", "", connectors.ConnectorConfig{Type: "sugarcrm"}, []string{`type: "sugarcrm" unknown`}},
		{"section missing", "", connectors.ConnectorConfig{Type: "salesforce"}, []string{"salesforce: required for type salesforce"}},
		{"another type's section", "type: salesforce\nsalesforce: {url: 'https://acme.my.salesforce.com', client_id: c, client_secret: s}\nwebhook: {}\n",
			connectors.ConnectorConfig{}, []string{`webhook: set, but type is "salesforce"`}},
		{"the section's own problems, prefixed", "", connectors.ConnectorConfig{Type: "salesforce", Settings: &salesforce.Config{}}, []string{"salesforce.url: required", "salesforce.client_id: required"}},
		{"recognition on a webhook", "", connectors.ConnectorConfig{Type: "webhook", Settings: &webhook.Config{URL: "https://x", Secret: "s"}, Recognition: &phoneindex.Settings{}},
			[]string{`recognition: type "webhook" cannot list CRM records`}},
		{"recognition problems", "", connectors.ConnectorConfig{Type: "salesforce", Settings: sf, Recognition: &phoneindex.Settings{TailDigits: 3}}, []string{"recognition.tail_digits"}},
	}
	for _, tt := range tests {
		c := tt.cfg
		if tt.yaml != "" {
			if err := yaml.Unmarshal([]byte(tt.yaml), &c); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
		}
		err := c.Validate()
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v lacks %q", tt.name, err, w)
			}
		}
	}
	if err := (connectors.ConnectorConfig{Type: "salesforce", Settings: sf, Recognition: &phoneindex.Settings{}}).Validate(); err != nil {
		t.Errorf("valid: %v", err)
	}
}

// Each type's recognition reads its own CRM's records unless told others.
func TestRecognitionDefaults(t *testing.T) {
	sf := &salesforce.Config{URL: "https://acme.my.salesforce.com", ClientID: "c", ClientSecret: "s"}
	s, ok := connectors.ConnectorConfig{Type: "salesforce", Settings: sf, Recognition: &phoneindex.Settings{Region: "FI"}}.RecognitionSettings()
	if !ok || len(s.Entities) == 0 || s.Entities[0].EntitySet != "Contact" || s.Region != "FI" {
		t.Errorf("salesforce defaults: %+v %v", s, ok)
	}
	s, _ = connectors.ConnectorConfig{Type: "dynamics", Settings: &dynamics.Config{}, Recognition: &phoneindex.Settings{}}.RecognitionSettings()
	if len(s.Entities) == 0 || s.Entities[0].EntitySet != phoneindex.DefaultEntities()[0].EntitySet {
		t.Errorf("dynamics defaults: %+v", s.Entities)
	}
	own := []phoneindex.Entity{salesforce.DefaultEntities()[2]}
	if s, _ := (connectors.ConnectorConfig{Type: "salesforce", Settings: sf, Recognition: &phoneindex.Settings{Entities: own}}).RecognitionSettings(); len(s.Entities) != 1 {
		t.Errorf("configured entities replaced: %+v", s.Entities)
	}
	if _, ok := (connectors.ConnectorConfig{Type: "salesforce", Settings: sf}).RecognitionSettings(); ok {
		t.Error("recognition off, yet settings")
	}
}

// A webhook borrows another connector's phone index, which must exist.
func TestCheckReferences(t *testing.T) {
	sf := &salesforce.Config{URL: "https://acme.my.salesforce.com", ClientID: "c", ClientSecret: "s"}
	hook := func(name, from string) connectors.ConnectorConfig {
		return connectors.ConnectorConfig{Name: name, Type: "webhook", Settings: &webhook.Config{URL: "https://x", Secret: "s", RecognitionFrom: from}}
	}
	ok := []connectors.ConnectorConfig{{Name: "sf", Type: "salesforce", Settings: sf, Recognition: &phoneindex.Settings{}}, hook("h1", "sf"), hook("h2", "")}
	if err := connectors.CheckReferences(ok); err != nil {
		t.Errorf("valid: %v", err)
	}
	conns, err := connectors.Build(ok, connectors.Deps{Logger: zerolog.Nop()}, &phoneindex.Set{})
	if err != nil || len(conns) != 3 {
		t.Errorf("Build: %v %v", conns, err)
	}
	bad := []connectors.ConnectorConfig{{Name: "sf", Type: "salesforce", Settings: sf}, hook("h1", "sf"), hook("h2", "nowhere")}
	err = connectors.CheckReferences(bad)
	for _, w := range []string{`crm[1].webhook.recognition_from: "sf" is not a connector with recognition on`, `crm[2].webhook.recognition_from: "nowhere"`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("%v lacks %q", err, w)
		}
	}
	if _, err := connectors.Build(bad, connectors.Deps{Logger: zerolog.Nop()}, nil); err == nil || !strings.Contains(err.Error(), "recognition_from") {
		t.Errorf("Build: %v", err)
	}
}
