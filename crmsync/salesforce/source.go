package salesforce

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// DefaultEntities are the objects caller recognition reads: contacts and
// leads (people) and accounts. The object's API name is the entity set;
// SystemModstamp, the field Salesforce recommends for replication, marks
// changes.
func DefaultEntities() []phoneindex.Entity {
	return []phoneindex.Entity{
		{Name: "contact", EntitySet: "Contact", Key: "Id", NameField: "Name", OrgField: "AccountId",
			PhoneFields: []string{"Phone", "MobilePhone", "HomePhone", "OtherPhone", "AssistantPhone"}, Kind: phoneindex.Person},
		{Name: "lead", EntitySet: "Lead", Key: "Id", NameField: "Name",
			PhoneFields: []string{"Phone", "MobilePhone"}, Kind: phoneindex.Person},
		{Name: "account", EntitySet: "Account", Key: "Id", NameField: "Name",
			PhoneFields: []string{"Phone"}, Kind: phoneindex.Organisation},
	}
}

// modifiedField is where every object records its last change.
const modifiedField = "SystemModstamp"

// Records implements phoneindex.Source: a SOQL query of e's records
// modified at or after since (all when zero), 2,000 a page. A converted
// lead became a contact and is left out. Deleted records are not
// returned, so a full sync drops them.
func (s *Salesforce) Records(ctx context.Context, e phoneindex.Entity, since time.Time, fn func([]phoneindex.Record) error) error {
	if err := e.Validate(); err != nil {
		return crmerr.Permanent(s.c.Errorf("entity %s: %w", e.Name, err))
	}
	fields := append([]string{e.Key, e.NameField, modifiedField}, e.PhoneFields...)
	fields = append(fields, e.Fields...)
	if e.OrgField != "" {
		fields = append(fields, e.OrgField)
	}
	var conds []string
	if !since.IsZero() {
		conds = append(conds, modifiedField+" >= "+since.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if e.EntitySet == "Lead" {
		conds = append(conds, "IsConverted = false")
	}
	q := "SELECT " + strings.Join(dedupe(fields), ", ") + " FROM " + e.EntitySet
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	q += " ORDER BY " + modifiedField
	return s.query(ctx, "records", q, func(rows []json.RawMessage) error {
		recs := make([]phoneindex.Record, 0, len(rows))
		for _, raw := range rows {
			var v map[string]any
			if err := json.Unmarshal(raw, &v); err != nil {
				return s.c.Unexpected("records", err)
			}
			rec := phoneindex.Record{Entity: e.Name}
			rec.ID, _ = v[e.Key].(string)
			rec.Name = displayName(v, e)
			if str, ok := v[modifiedField].(string); ok {
				rec.Modified, _ = time.Parse("2006-01-02T15:04:05.000-0700", str)
			}
			for _, f := range e.PhoneFields {
				if str, ok := v[f].(string); ok && str != "" {
					rec.Phones = append(rec.Phones, str)
				}
			}
			if e.OrgField != "" {
				rec.Org, _ = v[e.OrgField].(string)
			}
			if rec.ID != "" {
				rec.URL = s.cfg.URL + "/lightning/r/" + e.EntitySet + "/" + rec.ID + "/view"
			}
			recs = append(recs, rec)
		}
		return fn(recs)
	})
}

// displayName is the name field followed by any further display fields.
func displayName(v map[string]any, e phoneindex.Entity) string {
	parts := []string{}
	for _, f := range append([]string{e.NameField}, e.Fields...) {
		if str, ok := v[f].(string); ok && strings.TrimSpace(str) != "" {
			parts = append(parts, strings.TrimSpace(str))
		}
	}
	return strings.Join(parts, " ")
}

func dedupe(fs []string) []string {
	seen := map[string]bool{}
	out := fs[:0:0]
	for _, f := range fs {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}
