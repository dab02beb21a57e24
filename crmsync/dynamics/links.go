package dynamics

import (
	"net/url"
	"strings"

	"github.com/callbridge/callbridge/crmsync"
)

// Dataverse's record pages: the model-driven app's main.aspx, which opens
// a record by its table's logical name (etn) and id, or a new record's
// form with fields prefilled (extraqs, itself a query string).
const recordPage = "/main.aspx?pagetype=entityrecord&etn="

// RecordURL implements crmsync.RecordLinker: the record's page.
func (d *Dynamics) RecordURL(entity, id string) string {
	return d.base + recordPage + url.QueryEscape(entity) + "&id=" + url.QueryEscape(id)
}

// NewRecordURL implements crmsync.RecordLinker: the form of a new entity
// record with phoneField set to number.
func (d *Dynamics) NewRecordURL(entity, phoneField, number string) string {
	extra := url.Values{phoneField: {number}}.Encode()
	return d.base + recordPage + url.QueryEscape(entity) + "&extraqs=" + url.QueryEscape(extra)
}

// OpenRecord names the preset script that opens the matched record.
const OpenRecord = "Open record"

// Scripts implements crmsync.ScriptPresets: "Open record", the matched
// record's page, for every Dynamics connector.
func (c Config) Scripts() []crmsync.Script {
	base := strings.TrimRight(c.URL, "/")
	return []crmsync.Script{{Name: OpenRecord, URL: base + recordPage + "$(Entity)&id=$(Id)"}}
}

var (
	_ crmsync.RecordLinker  = (*Dynamics)(nil)
	_ crmsync.ScriptPresets = Config{}
)
