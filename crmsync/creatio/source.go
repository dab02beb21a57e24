package creatio

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// DefaultEntities are what caller recognition reads: contacts (with their
// account) and accounts.
func DefaultEntities() []phoneindex.Entity {
	return []phoneindex.Entity{
		{Name: "contact", EntitySet: "Contact", Key: "Id", NameField: "Name", OrgField: "AccountId",
			PhoneFields: []string{"Phone", "MobilePhone", "HomePhone"}, Kind: phoneindex.Person},
		{Name: "account", EntitySet: "Account", Key: "Id", NameField: "Name",
			PhoneFields: []string{"Phone", "AdditionalPhone"}, Kind: phoneindex.Organisation},
	}
}

// Records implements phoneindex.Source: e's rows modified at or after
// since (all when zero), ModifiedOn ascending, 1,000 a page by $skip.
// Deleted rows are not listed, so a full sync drops them.
func (k *Creatio) Records(ctx context.Context, e phoneindex.Entity, since time.Time, fn func([]phoneindex.Record) error) error {
	if err := e.Validate(); err != nil {
		return crmerr.Permanent(k.c.Errorf("entity %s: %w", e.Name, err))
	}
	sel := dedupe(append(append([]string{e.Key, e.NameField, "ModifiedOn", e.OrgField}, e.Fields...), e.PhoneFields...))
	for skip := 0; ; skip += pageSize {
		if skip > 100_000_000 {
			return crmerr.Permanent(k.c.Errorf("records: too many pages, giving up"))
		}
		q := url.Values{"$select": {strings.Join(sel, ",")}, "$orderby": {"ModifiedOn,Id"},
			"$top": {strconv.Itoa(pageSize)}, "$skip": {strconv.Itoa(skip)}}
		if !since.IsZero() {
			q.Set("$filter", "ModifiedOn ge "+since.UTC().Format("2006-01-02T15:04:05Z"))
		}
		r, err := k.c.Do(ctx, "records", http.MethodGet, k.odata+url.PathEscape(e.EntitySet)+"?"+odataQuery(q), nil, nil)
		if err != nil {
			return err
		}
		if !r.OK() {
			return k.c.Fail("records", r)
		}
		var pg struct {
			Value []map[string]any `json:"value"`
		}
		if err := json.Unmarshal(r.Body, &pg); err != nil {
			return k.c.Unexpected("records", err)
		}
		recs := make([]phoneindex.Record, 0, len(pg.Value))
		for _, v := range pg.Value {
			rec := phoneindex.Record{Entity: e.Name}
			if id, ok := v[e.Key].(string); ok {
				rec.ID = strings.ToLower(id)
			}
			var names []string
			for _, f := range append([]string{e.NameField}, e.Fields...) {
				if s, ok := v[f].(string); ok && strings.TrimSpace(s) != "" {
					names = append(names, strings.TrimSpace(s))
				}
			}
			rec.Name = strings.Join(names, " ")
			if s, ok := v["ModifiedOn"].(string); ok {
				rec.Modified, _ = time.Parse(time.RFC3339, s)
			}
			for _, f := range e.PhoneFields {
				if s, ok := v[f].(string); ok && s != "" {
					rec.Phones = append(rec.Phones, s)
				}
			}
			if s, ok := v[e.OrgField].(string); ok && e.OrgField != "" && s != "00000000-0000-0000-0000-000000000000" {
				rec.Org = strings.ToLower(s)
			}
			if rec.ID != "" {
				rec.URL = k.cfg.URL + "/0/Shell/#Card/" + e.EntitySet + "s_FormPage/edit/" + rec.ID
			}
			recs = append(recs, rec)
		}
		if err := fn(recs); err != nil {
			return err
		}
		if len(pg.Value) < pageSize {
			return nil
		}
	}
}

func dedupe(fs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range fs {
		if f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}
