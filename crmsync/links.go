package crmsync

// Script is one link the caller card offers the agent (scripts: of a
// crm[] entry): a URL template with the call's #(…) and the matched
// record's $(…) placeholders, rendered for every call (internal/script).
type Script struct {
	// Name is the button's label; unique within the connector.
	Name string `yaml:"name"`
	// URL is the template: http(s), mailto: or any other scheme.
	URL string `yaml:"url"`
}

// ScriptPresets is implemented by a connector's settings that bring
// scripts of their own, such as Dynamics' "Open record". A script of the
// configuration with the same name replaces the preset.
type ScriptPresets interface {
	Scripts() []Script
}

// RecordLinker is a connector that can link to its records in the CRM's
// own pages: the caller card's record links and "new record" pops.
type RecordLinker interface {
	// RecordURL is the page of the record id of entity ("contact").
	RecordURL(entity, id string) string
	// NewRecordURL is the form for a new record of entity with
	// phoneField prefilled with number.
	NewRecordURL(entity, phoneField, number string) string
}
