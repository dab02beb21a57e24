package zoho

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

// DefaultEntities are the modules caller recognition reads: contacts (with
// their account, the Account_Name lookup), leads and accounts.
func DefaultEntities() []phoneindex.Entity {
	return []phoneindex.Entity{
		{Name: "contact", EntitySet: "Contacts", Key: "id", NameField: "Full_Name", OrgField: "Account_Name",
			PhoneFields: []string{"Phone", "Mobile", "Home_Phone", "Other_Phone", "Asst_Phone"}, Kind: phoneindex.Person},
		{Name: "lead", EntitySet: "Leads", Key: "id", NameField: "Full_Name",
			PhoneFields: []string{"Phone", "Mobile"}, Kind: phoneindex.Person},
		{Name: "account", EntitySet: "Accounts", Key: "id", NameField: "Account_Name",
			PhoneFields: []string{"Phone"}, Kind: phoneindex.Organisation},
	}
}

// Records implements phoneindex.Source with the records API: 200 a page,
// pages past the first 2,000 records by page_token, sorted by
// Modified_Time; an incremental sync sends If-Modified-Since (Zoho answers
// 304 when nothing changed). Deleted records are not listed, so a full
// sync drops them.
func (z *Zoho) Records(ctx context.Context, e phoneindex.Entity, since time.Time, fn func([]phoneindex.Record) error) error {
	if err := e.Validate(); err != nil {
		return crmerr.Permanent(z.c.Errorf("entity %s: %w", e.Name, err))
	}
	z.org(ctx)
	fields := dedupe(append(append([]string{e.NameField, "Modified_Time", e.OrgField}, e.Fields...), e.PhoneFields...))
	hdr := http.Header{}
	if !since.IsZero() {
		// A second early: re-reading a record is harmless, missing one
		// changed within the watermark's second is not.
		hdr.Set("If-Modified-Since", since.Add(-time.Second).UTC().Format("2006-01-02T15:04:05-07:00"))
	}
	token := ""
	for page := 1; ; page++ {
		if page > 1_000_000 {
			return crmerr.Permanent(z.c.Errorf("records: too many pages, giving up"))
		}
		q := url.Values{"fields": {strings.Join(fields, ",")}, "per_page": {"200"}, "sort_by": {"Modified_Time"}, "sort_order": {"asc"}}
		if token != "" {
			q.Set("page_token", token)
		} else {
			q.Set("page", strconv.Itoa(page))
		}
		r, err := z.c.Do(ctx, "records", http.MethodGet, z.api+url.PathEscape(e.EntitySet)+"?"+q.Encode(), nil, hdr)
		if err != nil {
			return err
		}
		if r.Status == http.StatusNoContent || r.Status == http.StatusNotModified {
			return nil
		}
		if !r.OK() {
			return z.c.Fail("records", r)
		}
		var pg struct {
			Data []map[string]any `json:"data"`
			Info struct {
				MoreRecords   bool   `json:"more_records"`
				NextPageToken string `json:"next_page_token"`
			} `json:"info"`
		}
		if err := json.Unmarshal(r.Body, &pg); err != nil {
			return z.c.Unexpected("records", err)
		}
		if err := fn(z.records(e, pg.Data)); err != nil {
			return err
		}
		if !pg.Info.MoreRecords {
			return nil
		}
		token = pg.Info.NextPageToken
	}
}

// lookupID reads a lookup field's id ({"name": …, "id": …}).
func lookupID(v any) string {
	if m, ok := v.(map[string]any); ok {
		id, _ := m["id"].(string)
		return id
	}
	return ""
}

func (z *Zoho) records(e phoneindex.Entity, rows []map[string]any) []phoneindex.Record {
	z.orgMu.Lock()
	org := z.orgPath
	z.orgMu.Unlock()
	out := make([]phoneindex.Record, 0, len(rows))
	for _, v := range rows {
		rec := phoneindex.Record{Entity: e.Name}
		rec.ID, _ = v["id"].(string)
		var names []string
		for _, f := range append([]string{e.NameField}, e.Fields...) {
			if s, ok := v[f].(string); ok && strings.TrimSpace(s) != "" {
				names = append(names, strings.TrimSpace(s))
			}
		}
		rec.Name = strings.Join(names, " ")
		if s, ok := v["Modified_Time"].(string); ok {
			rec.Modified, _ = time.Parse(time.RFC3339, s)
		}
		for _, f := range e.PhoneFields {
			if s, ok := v[f].(string); ok && s != "" {
				rec.Phones = append(rec.Phones, s)
			}
		}
		if e.OrgField != "" {
			rec.Org = lookupID(v[e.OrgField])
		}
		if org != "" && rec.ID != "" {
			rec.URL = z.cfg.WebURL + "/crm/" + org + "/tab/" + e.EntitySet + "/" + rec.ID
		}
		out = append(out, rec)
	}
	return out
}

// org learns, once, the org's name in record URLs (GET /org,
// domain_name). Without it records have no URL.
func (z *Zoho) org(ctx context.Context) {
	z.orgMu.Lock()
	known := z.orgPath != ""
	z.orgMu.Unlock()
	if known {
		return
	}
	r, err := z.c.Do(ctx, "org", http.MethodGet, z.api+"org", nil, nil)
	if err != nil || !r.OK() {
		if err == nil {
			err = z.c.Fail("org", r)
		}
		z.log.Warn().Str("connector", z.name).Err(err).Msg("zoho org details unreadable; records without URLs")
		return
	}
	var res struct {
		Org []struct {
			DomainName string `json:"domain_name"`
		} `json:"org"`
	}
	if json.Unmarshal(r.Body, &res) != nil || len(res.Org) == 0 || strings.ContainsAny(res.Org[0].DomainName, "/?#@ ") {
		return
	}
	z.orgMu.Lock()
	z.orgPath = res.Org[0].DomainName
	z.orgMu.Unlock()
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
