package pipedrive

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// DefaultEntities are what caller recognition reads: persons, with all
// their numbers (the phones list) and their organisation. Organisations
// have no standard phone field; list them with a custom phone field's key
// in phone_fields to read them too.
func DefaultEntities() []phoneindex.Entity {
	return []phoneindex.Entity{
		{Name: "person", EntitySet: "persons", Key: "id", NameField: "name", OrgField: "org_id",
			PhoneFields: []string{"phones"}, Kind: phoneindex.Person},
	}
}

// Records implements phoneindex.Source with API v2's lists: 500 a page by
// cursor, updated_since for an incremental sync. Deleted records are not
// listed, so a full sync drops them.
func (p *Pipedrive) Records(ctx context.Context, e phoneindex.Entity, since time.Time, fn func([]phoneindex.Record) error) error {
	if err := e.Validate(); err != nil {
		return crmerr.Permanent(p.c.Errorf("entity %s: %w", e.Name, err))
	}
	p.companyDomain(ctx)
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 1_000_000 {
			return crmerr.Permanent(p.c.Errorf("records: too many pages, giving up"))
		}
		q := url.Values{"limit": {"500"}}
		if !since.IsZero() {
			q.Set("updated_since", since.UTC().Format(time.RFC3339))
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r, err := p.c.Do(ctx, "records", http.MethodGet, p.cfg.URL+"/api/v2/"+url.PathEscape(e.EntitySet)+"?"+q.Encode(), nil, nil)
		if err != nil {
			return err
		}
		if !r.OK() {
			return p.c.Fail("records", r)
		}
		var pg struct {
			Data           []map[string]any `json:"data"`
			AdditionalData struct {
				NextCursor string `json:"next_cursor"`
			} `json:"additional_data"`
		}
		if err := json.Unmarshal(r.Body, &pg); err != nil {
			return p.c.Unexpected("records", err)
		}
		if err := fn(p.records(e, pg.Data)); err != nil {
			return err
		}
		if cursor = pg.AdditionalData.NextCursor; cursor == "" {
			return nil
		}
	}
}

// field reads a field at the top level, else among custom_fields (keyed
// by their 40-character hashes).
func field(v map[string]any, name string) any {
	if x, ok := v[name]; ok {
		return x
	}
	if cf, ok := v["custom_fields"].(map[string]any); ok {
		return cf[name]
	}
	return nil
}

// phones reads a phone field: the phones list ([{value, primary, label}])
// or a plain string.
func phones(x any) []string {
	switch v := x.(type) {
	case string:
		if v != "" {
			return []string{v}
		}
	case []any:
		var out []string
		for _, it := range v {
			if m, ok := it.(map[string]any); ok {
				if s, ok := m["value"].(string); ok && s != "" {
					out = append(out, s)
				}
			}
		}
		return out
	}
	return nil
}

func idString(x any) string {
	switch v := x.(type) {
	case float64:
		return fmt.Sprintf("%.0f", v)
	case string:
		return v
	case map[string]any: // v1's {"value": id, "name": …}
		return idString(v["value"])
	}
	return ""
}

func (p *Pipedrive) records(e phoneindex.Entity, rows []map[string]any) []phoneindex.Record {
	p.domainMu.Lock()
	domain := p.domain
	p.domainMu.Unlock()
	path := strings.TrimSuffix(e.EntitySet, "s")
	if e.EntitySet == "organizations" {
		path = "organization"
	}
	out := make([]phoneindex.Record, 0, len(rows))
	for _, v := range rows {
		rec := phoneindex.Record{Entity: e.Name, ID: idString(v["id"])}
		var names []string
		for _, f := range append([]string{e.NameField}, e.Fields...) {
			if s, ok := field(v, f).(string); ok && strings.TrimSpace(s) != "" {
				names = append(names, strings.TrimSpace(s))
			}
		}
		rec.Name = strings.Join(names, " ")
		if s, ok := v["update_time"].(string); ok {
			rec.Modified, _ = time.Parse(time.RFC3339, s)
		}
		for _, f := range e.PhoneFields {
			rec.Phones = append(rec.Phones, phones(field(v, f))...)
		}
		if e.OrgField != "" {
			rec.Org = idString(field(v, e.OrgField))
		}
		if domain != "" && rec.ID != "" {
			rec.URL = "https://" + domain + ".pipedrive.com/" + path + "/" + rec.ID
		}
		out = append(out, rec)
	}
	return out
}

// companyDomain learns, once, the company's subdomain for record URLs.
func (p *Pipedrive) companyDomain(ctx context.Context) {
	p.domainMu.Lock()
	known := p.domain != ""
	p.domainMu.Unlock()
	if known {
		return
	}
	r, err := p.c.Do(ctx, "me", http.MethodGet, p.cfg.URL+"/api/v1/users/me", nil, nil)
	if err != nil || !r.OK() {
		if err == nil {
			err = p.c.Fail("me", r)
		}
		p.log.Warn().Str("connector", p.name).Err(err).Msg("pipedrive company domain unreadable; records without URLs")
		return
	}
	var res struct {
		Data struct {
			CompanyDomain string `json:"company_domain"`
		} `json:"data"`
	}
	if json.Unmarshal(r.Body, &res) != nil || !domainRE.MatchString(res.Data.CompanyDomain) {
		return
	}
	p.domainMu.Lock()
	p.domain = res.Data.CompanyDomain
	p.domainMu.Unlock()
}
