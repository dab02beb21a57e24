package dynamics

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// Records implements phoneindex.Source: it lists e's records modified
// at or after since (all when zero; the boundary second is read again,
// which is harmless, rather than risk missing a change within it), 5000 a
// page, following @odata.nextLink.
func (d *Dynamics) Records(ctx context.Context, e phoneindex.Entity, since time.Time, fn func([]phoneindex.Record) error) error {
	if err := e.Validate(); err != nil {
		return crmerr.Permanent(fmt.Errorf("dynamics %s: entity %s: %w", d.name, e.Name, err))
	}
	sel := selectList(e)
	q := url.Values{"$select": {strings.Join(sel, ",")}}
	if !since.IsZero() {
		q.Set("$filter", "modifiedon ge "+dvTime(since))
	}
	next := e.EntitySet + "?" + queryString(q)
	for pages := 0; next != ""; pages++ {
		if pages > 100_000 {
			return crmerr.Permanent(fmt.Errorf("dynamics %s: %s: more than 100000 pages, giving up", d.name, e.EntitySet))
		}
		r, err := d.do(ctx, "records", http.MethodGet, next, nil, http.Header{"Prefer": {"odata.maxpagesize=5000"}})
		if err != nil {
			return err
		}
		if r.status != http.StatusOK {
			return d.fail("records", r)
		}
		var page struct {
			Value []map[string]any `json:"value"`
			Next  string           `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			return crmerr.Retryable(fmt.Errorf("dynamics %s: %s: undecodable page: %w", d.name, e.EntitySet, err), 0)
		}
		recs := make([]phoneindex.Record, 0, len(page.Value))
		for _, v := range page.Value {
			rec := phoneindex.Record{Entity: e.Name}
			rec.ID, _ = v[e.Key].(string)
			rec.Name, _ = v[e.NameField].(string)
			if s, ok := v["modifiedon"].(string); ok {
				rec.Modified, _ = time.Parse(time.RFC3339, s)
			}
			for _, f := range e.PhoneFields {
				if s, ok := v[f].(string); ok && s != "" {
					rec.Phones = append(rec.Phones, s)
				}
			}
			if e.OwnerField != "" {
				rec.Owner, _ = v[e.OwnerField].(string)
			}
			for _, f := range e.Fields {
				if x := fieldValue(v[f]); x != "" {
					if rec.Fields == nil {
						rec.Fields = map[string]string{}
					}
					rec.Fields[f] = x
				}
			}
			recs = append(recs, rec)
		}
		if err := fn(recs); err != nil {
			return err
		}
		next = page.Next
	}
	return nil
}

// selectList is the $select of e's records: the key, the name, modifiedon,
// the phone fields, the further fields and the owner field, each once
// (Dataverse refuses a column named twice).
func selectList(e phoneindex.Entity) []string {
	sel := []string{e.Key, e.NameField, "modifiedon"}
	more := append(slices.Clone(e.PhoneFields), e.Fields...)
	if e.OwnerField != "" {
		more = append(more, e.OwnerField)
	}
	for _, f := range more {
		if !slices.Contains(sel, f) {
			sel = append(sel, f)
		}
	}
	return sel
}

// fieldValue writes a column's value as routing rules compare it: text as
// it is, choice and number columns as their number (1, not 1.0), Booleans
// as true or false.
func fieldValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}
