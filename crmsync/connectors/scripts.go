package connectors

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/script"
)

// Fields are the $(…) fields the connector's records have on the caller
// card: the lower-case names of its recognition entities' fields. A
// connector without recognition matches no record, so it has none.
func (c ConnectorConfig) Fields() map[string]bool {
	rs, on := c.RecognitionSettings()
	if !on {
		return nil
	}
	out := map[string]bool{}
	for _, e := range rs.Entities {
		for _, f := range e.Fields {
			out[strings.ToLower(f)] = true
		}
	}
	return out
}

// ScriptTemplates parses the connector's scripts: its type's presets
// (when recognition is on: they show a matched record) and then scripts:,
// one of which replaces a preset of the same name. Errors name the key
// and the script.
func (c ConnectorConfig) ScriptTemplates() ([]*script.Template, error) {
	fields := c.Fields()
	known := func(f string) bool { return fields[f] }
	if c.Recognition == nil {
		// Any field parses, so that the error below says what is wrong:
		// no recognition, no record.
		known = func(string) bool { return true }
	}
	var errs []error
	names := map[string]int{}
	for i, s := range c.Scripts {
		key := fmt.Sprintf("scripts[%d]", i)
		switch {
		case strings.TrimSpace(s.Name) == "":
			errs = append(errs, fmt.Errorf("%s.name: required (it labels the button)", key))
		default:
			if j, dup := names[s.Name]; dup {
				errs = append(errs, fmt.Errorf("%s.name: %q is also scripts[%d]'s", key, s.Name, j))
			}
			names[s.Name] = i
		}
		if s.URL == "" {
			errs = append(errs, fmt.Errorf("%s.url: required", key))
		}
	}
	var out []*script.Template
	if p, ok := c.Settings.(crmsync.ScriptPresets); ok && c.Recognition != nil && !isNil(c.Settings) && c.Settings.Validate() == nil {
		for _, s := range p.Scripts() {
			if _, replaced := names[s.Name]; replaced {
				continue
			}
			t, err := script.Parse(s.Name, s.URL, known)
			if err != nil {
				// A preset that does not parse is a bug of its type, or
				// a URL of its section that the section reports.
				continue
			}
			out = append(out, t)
		}
	}
	for i, s := range c.Scripts {
		if s.URL == "" {
			continue
		}
		t, err := script.Parse(s.Name, s.URL, known)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("scripts[%d].url: %w", i, err))
			continue
		case t.NeedsRecord() && c.Recognition == nil:
			errs = append(errs, fmt.Errorf("scripts[%d].url: script %q uses a record's $(…) field, but this connector has no recognition: it never matches a record", i, s.Name))
			continue
		}
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

func isNil(s Settings) bool {
	if s == nil {
		return true
	}
	v := reflect.ValueOf(s)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
