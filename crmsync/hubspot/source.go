package hubspot

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

// DefaultEntities are the objects caller recognition reads: contacts (a
// person's name is firstname and lastname; associatedcompanyid is their
// primary company) and companies.
func DefaultEntities() []phoneindex.Entity {
	return []phoneindex.Entity{
		{Name: "contact", EntitySet: "contacts", Key: "hs_object_id", NameField: "firstname", Fields: []string{"lastname"},
			OrgField: "associatedcompanyid", PhoneFields: []string{"phone", "mobilephone"}, Kind: phoneindex.Person},
		{Name: "company", EntitySet: "companies", Key: "hs_object_id", NameField: "name",
			PhoneFields: []string{"phone"}, Kind: phoneindex.Organisation},
	}
}

// modifiedProperty is where an object records its last change: contacts
// keep lastmodifieddate, the other objects hs_lastmodifieddate.
func modifiedProperty(set string) string {
	if set == "contacts" {
		return "lastmodifieddate"
	}
	return "hs_lastmodifieddate"
}

// objectTypeID is the object's id in record URLs.
func objectTypeID(set string) string {
	switch set {
	case "contacts":
		return "0-1"
	case "companies":
		return "0-2"
	case "deals":
		return "0-3"
	case "tickets":
		return "0-5"
	}
	return set
}

// The CRM search API pages 200 results and answers at most 10,000 per
// query; an incremental sync past that searches again from the last
// modification time seen.
const (
	listLimit   = 100
	searchLimit = 200
	searchCap   = 10_000
)

// Records implements phoneindex.Source. A full sync lists every record
// (100 a page; archived ones are not listed, so a full sync drops deleted
// records); an incremental one searches for records modified at or after
// since.
func (h *HubSpot) Records(ctx context.Context, e phoneindex.Entity, since time.Time, fn func([]phoneindex.Record) error) error {
	if err := e.Validate(); err != nil {
		return crmerr.Permanent(h.c.Errorf("entity %s: %w", e.Name, err))
	}
	h.account(ctx)
	mod := modifiedProperty(e.EntitySet)
	props := dedupe(append(append([]string{e.NameField, mod}, e.Fields...), append(e.PhoneFields, e.OrgField)...))
	if since.IsZero() {
		after := ""
		for pages := 0; ; pages++ {
			if pages > 1_000_000 {
				return crmerr.Permanent(h.c.Errorf("records: too many pages, giving up"))
			}
			q := url.Values{"limit": {strconv.Itoa(listLimit)}, "properties": {strings.Join(props, ",")}}
			if after != "" {
				q.Set("after", after)
			}
			pg, err := h.get(ctx, h.cfg.URL+"/crm/v3/objects/"+url.PathEscape(e.EntitySet)+"?"+q.Encode())
			if err != nil {
				return err
			}
			if err := fn(h.records(e, mod, pg)); err != nil {
				return err
			}
			if after = pg.Paging.Next.After; after == "" {
				return nil
			}
		}
	}
	mark := since
	for rounds := 0; ; rounds++ {
		if rounds > 10_000 {
			return crmerr.Permanent(h.c.Errorf("records: too many search rounds, giving up"))
		}
		start := mark
		after := ""
		for {
			req := newSearch(searchLimit, props, searchFilter{PropertyName: mod, Operator: "GTE", Value: strconv.FormatInt(start.UnixMilli(), 10)})
			req.Sorts = []map[string]string{{"propertyName": mod, "direction": "ASCENDING"}}
			req.After = after
			r, err := h.c.DoJSON(ctx, "records", http.MethodPost, h.cfg.URL+"/crm/v3/objects/"+url.PathEscape(e.EntitySet)+"/search", req, nil)
			if err != nil {
				return err
			}
			if !r.OK() {
				return h.c.Fail("records", r)
			}
			var pg page
			if err := json.Unmarshal(r.Body, &pg); err != nil {
				return h.c.Unexpected("records", err)
			}
			recs := h.records(e, mod, &pg)
			for _, rec := range recs {
				if rec.Modified.After(mark) {
					mark = rec.Modified
				}
			}
			if err := fn(recs); err != nil {
				return err
			}
			after = pg.Paging.Next.After
			if after == "" {
				return nil
			}
			if n, _ := strconv.Atoi(after); n+searchLimit > searchCap {
				break // the search's cap: again from the newest change seen
			}
		}
		if !mark.After(start) {
			return crmerr.Permanent(h.c.Errorf("records: more than %d %s changed within one millisecond", searchCap, e.EntitySet))
		}
	}
}

func (h *HubSpot) get(ctx context.Context, target string) (*page, error) {
	r, err := h.c.Do(ctx, "records", http.MethodGet, target, nil, nil)
	if err != nil {
		return nil, err
	}
	if !r.OK() {
		return nil, h.c.Fail("records", r)
	}
	var pg page
	if err := json.Unmarshal(r.Body, &pg); err != nil {
		return nil, h.c.Unexpected("records", err)
	}
	return &pg, nil
}

func (h *HubSpot) records(e phoneindex.Entity, mod string, pg *page) []phoneindex.Record {
	h.acctMu.Lock()
	app, portal := h.appURL, h.portalID
	h.acctMu.Unlock()
	out := make([]phoneindex.Record, 0, len(pg.Results))
	for _, res := range pg.Results {
		if res.Archived {
			continue
		}
		rec := phoneindex.Record{Entity: e.Name, ID: res.ID, Modified: res.UpdatedAt}
		var names []string
		for _, f := range append([]string{e.NameField}, e.Fields...) {
			if v := strings.TrimSpace(prop(res.Properties, f)); v != "" {
				names = append(names, v)
			}
		}
		rec.Name = strings.Join(names, " ")
		if t, err := time.Parse(time.RFC3339, prop(res.Properties, mod)); err == nil {
			rec.Modified = t
		}
		for _, f := range e.PhoneFields {
			if v := prop(res.Properties, f); v != "" {
				rec.Phones = append(rec.Phones, v)
			}
		}
		if e.OrgField != "" {
			rec.Org = prop(res.Properties, e.OrgField)
		}
		if app != "" && portal != "" && res.ID != "" {
			rec.URL = app + "/contacts/" + portal + "/record/" + objectTypeID(e.EntitySet) + "/" + res.ID
		}
		out = append(out, rec)
	}
	return out
}

// account learns the portal id and the app's domain for record URLs, once,
// unless configured. Without them records have no URL; recognition works
// regardless.
func (h *HubSpot) account(ctx context.Context) {
	h.acctMu.Lock()
	known := h.appURL != "" && h.portalID != ""
	h.acctMu.Unlock()
	if known {
		return
	}
	r, err := h.c.Do(ctx, "account", http.MethodGet, h.cfg.URL+"/account-info/v3/details", nil, nil)
	if err != nil || !r.OK() {
		if err == nil {
			err = h.c.Fail("account", r)
		}
		h.log.Warn().Str("connector", h.name).Err(err).Msg("hubspot account details unreadable; records without URLs")
		return
	}
	var d struct {
		PortalID int64  `json:"portalId"`
		UIDomain string `json:"uiDomain"`
	}
	if json.Unmarshal(r.Body, &d) != nil || d.PortalID == 0 {
		return
	}
	h.acctMu.Lock()
	defer h.acctMu.Unlock()
	if h.portalID == "" {
		h.portalID = strconv.FormatInt(d.PortalID, 10)
	}
	if h.appURL == "" && d.UIDomain != "" && !strings.ContainsAny(d.UIDomain, "/?#@") {
		h.appURL = "https://" + d.UIDomain
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
