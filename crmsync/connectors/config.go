package connectors

import (
	"errors"
	"fmt"
	"reflect"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// ConnectorConfig configures one connector instance: one entry of crm:.
type ConnectorConfig struct {
	// Name identifies the instance in queues, logs and metrics. Default:
	// Type. Two instances of one type need distinct names.
	Name string `yaml:"name"`
	// Type selects the entry of Types, and with it the settings section.
	Type string `yaml:"type"`
	// Recognition turns on caller recognition from this CRM (connectors
	// that can list their records: every type but webhook): a phone index
	// synced on a schedule, used for the activity's "regarding" and the
	// lookup API. See RecognitionSettings for its default entities.
	Recognition *phoneindex.Settings `yaml:"recognition,omitempty"`
	// Scripts are the links the caller card offers for calls this CRM
	// recognises (URL templates, internal/script); a type's presets
	// (Dynamics' "Open record") come first unless a script takes the
	// preset's name.
	Scripts []crmsync.Script `yaml:"scripts,omitempty"`
	// Settings is the section named after Type (webhook:, dynamics:),
	// a pointer to that type's settings (*webhook.Config, ...).
	Settings Settings `yaml:"-"`

	// others are the sections given for other types than Type.
	others []string
}

// InstanceName is the connector's name: Name, or Type when Name is empty.
func (c ConnectorConfig) InstanceName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Type
}

// RecognitionSettings are the connector's recognition settings with its
// type's own records (Salesforce's contacts, leads and accounts, ...)
// where recognition.entities names none; on is false when recognition is
// off.
func (c ConnectorConfig) RecognitionSettings() (s phoneindex.Settings, on bool) {
	if c.Recognition == nil {
		return phoneindex.Settings{}, false
	}
	s = *c.Recognition
	if t, ok := Types[c.Type]; ok && t.entities != nil && len(s.Entities) == 0 {
		s.Entities = t.entities()
	}
	return s, true
}

// UnmarshalYAML decodes name, type and recognition as they are, and each
// section named after a connector type into that type's settings. Keys
// are checked by the config loader (see Sections) before it decodes.
func (c *ConnectorConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		var plain struct{}
		return n.Decode(&plain) // yaml's own "cannot unmarshal" error
	}
	common := &yaml.Node{Kind: yaml.MappingNode, Tag: n.Tag, Line: n.Line, Column: n.Column}
	var sections []*yaml.Node // key, value pairs
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, ok := Types[k.Value]; ok {
			sections = append(sections, k, v)
			continue
		}
		common.Content = append(common.Content, k, v)
	}
	type plain ConnectorConfig // without this method
	var p plain
	var terr yaml.TypeError
	collect := func(err error) error {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			terr.Errors = append(terr.Errors, te.Errors...)
			return nil
		}
		return err
	}
	if err := collect(common.Decode(&p)); err != nil {
		return err
	}
	*c = ConnectorConfig(p)
	for i := 0; i < len(sections); i += 2 {
		typ := sections[i].Value
		s, _ := newSettings(typ)
		if err := collect(sections[i+1].Decode(s)); err != nil {
			return err
		}
		if typ == c.Type {
			c.Settings = s
		} else {
			c.others = append(c.others, typ)
		}
	}
	if len(terr.Errors) > 0 {
		return &terr
	}
	return nil
}

// Validate checks one connector's configuration, naming keys relative to
// it (type, webhook.url, ...).
func (c ConnectorConfig) Validate() error {
	var errs []error
	t, known := Types[c.Type]
	if !known {
		errs = append(errs, fmt.Errorf("type: %q unknown (known: %v)", c.Type, Names()))
	}
	switch {
	case !known:
	case c.Settings == nil:
		errs = append(errs, fmt.Errorf("%s: required for type %s", c.Type, c.Type))
	case reflect.TypeOf(c.Settings) != t.settings:
		errs = append(errs, fmt.Errorf("%s: settings are a %T, want a %s", c.Type, c.Settings, t.settings))
	case reflect.ValueOf(c.Settings).IsNil():
		errs = append(errs, fmt.Errorf("%s: required for type %s", c.Type, c.Type))
	default:
		if err := c.Settings.Validate(); err != nil {
			errs = append(errs, prefixErr(c.Type+".", err))
		}
	}
	others := slices.Clone(c.others)
	slices.Sort(others)
	for _, o := range slices.Compact(others) {
		errs = append(errs, fmt.Errorf("%s: set, but type is %q", o, c.Type))
	}
	if _, err := c.ScriptTemplates(); err != nil {
		errs = append(errs, err)
	}
	if rs, on := c.RecognitionSettings(); on {
		if t.entities == nil {
			errs = append(errs, fmt.Errorf("recognition: type %q cannot list CRM records", c.Type))
		} else if err := rs.Validate(); err != nil {
			errs = append(errs, prefixErr("recognition.", err))
		}
		if t.entities != nil && !t.readsFields {
			for i, e := range rs.Entities {
				if len(e.Fields) > 0 {
					errs = append(errs, fmt.Errorf("recognition.entities[%d].fields: type %q reads no further fields; remove it", i, c.Type))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// prefixErr puts prefix before every line of a joined error.
func prefixErr(prefix string, err error) error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			errs = append(errs, fmt.Errorf("%s%w", prefix, e))
		}
		return errors.Join(errs...)
	}
	return fmt.Errorf("%s%w", prefix, err)
}

// Checker is a settings section whose connector reads files or
// credentials when it is built: Check reads them the same way, so that
// `config check` refuses what `run` would.
type Checker interface {
	Check() error
}

// UserIDChecker is a settings section whose connector uses CRM user ids
// from outside it (the directory's crm_user_id, the policy's
// default_assignee) as owners: CheckUserID says whether id is one.
type UserIDChecker interface {
	CheckUserID(id string) error
}

// Check runs the section's Checker, naming keys relative to the
// connector (webhook.tls.ca_file, ...). A section that does not validate
// is not checked further.
func (c ConnectorConfig) Check() error {
	ch, ok := c.Settings.(Checker)
	if !ok || c.Validate() != nil {
		return nil
	}
	if err := ch.Check(); err != nil {
		return prefixErr(c.Type+".", err)
	}
	return nil
}

// CheckUserID says whether this connector can use id as a CRM user; a
// connector that takes none accepts every id.
func (c ConnectorConfig) CheckUserID(id string) error {
	if ch, ok := c.Settings.(UserIDChecker); ok && c.Settings != nil && !reflect.ValueOf(c.Settings).IsNil() {
		return ch.CheckUserID(id)
	}
	return nil
}
