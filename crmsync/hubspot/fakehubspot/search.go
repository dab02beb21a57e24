package fakehubspot

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Search limits (CRM search API): 200 results a page, 10,000 per query,
// five filter groups of up to six filters, 100 values for IN.
const (
	searchPage   = 200
	searchCap    = 10_000
	maxGroups    = 5
	maxFilters   = 6
	maxInValues  = 100
	searchOpsAll = "EQ|IN|GTE|LTE|GT|LT|NEQ"
)

type filter struct {
	PropertyName string   `json:"propertyName"`
	Operator     string   `json:"operator"`
	Value        any      `json:"value"`
	Values       []string `json:"values"`
}

// searchObjects is POST /crm/v3/objects/<set>/search. Records written in
// the last IndexLag are not found yet: the index trails writes ("changes
// … take several seconds to propagate").
func (s *Server) searchObjects(w http.ResponseWriter, r *http.Request, set string) {
	var body struct {
		FilterGroups []struct {
			Filters []filter `json:"filters"`
		} `json:"filterGroups"`
		Sorts []struct {
			PropertyName string `json:"propertyName"`
			Direction    string `json:"direction"`
		} `json:"sorts"`
		Properties []string `json:"properties"`
		Limit      int      `json:"limit"`
		After      string   `json:"after"`
	}
	if !decode(w, r, &body) {
		return
	}
	s.mu.Lock()
	t := s.tables[set]
	s.mu.Unlock()
	if t == nil {
		hsErr(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "Unable to infer object type from: "+set)
		return
	}
	limit := body.Limit
	if limit == 0 {
		limit = 10
	}
	after := 0
	if body.After != "" {
		n, err := strconv.Atoi(body.After)
		if err != nil || n < 0 {
			hsErr(w, http.StatusBadRequest, "VALIDATION_ERROR", "after must be a paging cursor")
			return
		}
		after = n
	}
	switch {
	case limit < 1 || limit > searchPage:
		hsErr(w, http.StatusBadRequest, "VALIDATION_ERROR", fmt.Sprintf("limit must be between 1 and %d", searchPage))
		return
	case after+limit > searchCap:
		hsErr(w, http.StatusBadRequest, "VALIDATION_ERROR", fmt.Sprintf("a search returns at most %d results", searchCap))
		return
	case len(body.FilterGroups) > maxGroups || len(body.Sorts) > 1:
		hsErr(w, http.StatusBadRequest, "VALIDATION_ERROR", "too many filter groups or sorts")
		return
	}
	for _, g := range body.FilterGroups {
		if len(g.Filters) > maxFilters {
			hsErr(w, http.StatusBadRequest, "VALIDATION_ERROR", "too many filters in a group")
			return
		}
		for _, f := range g.Filters {
			_, known := t.props[f.PropertyName]
			switch {
			case !known && f.PropertyName != "hs_object_id":
				hsErr(w, http.StatusBadRequest, "VALIDATION_ERROR", fmt.Sprintf("There was a problem with the request: property %q does not exist", f.PropertyName),
					invalid("PROPERTY_DOESNT_EXIST", f.PropertyName, "Property does not exist"))
				return
			case !slices.Contains(strings.Split(searchOpsAll, "|"), f.Operator):
				hsErr(w, http.StatusBadRequest, "VALIDATION_ERROR", "unsupported operator "+f.Operator)
				return
			case f.Operator == "IN" && (len(f.Values) == 0 || len(f.Values) > maxInValues):
				hsErr(w, http.StatusBadRequest, "VALIDATION_ERROR", fmt.Sprintf("IN takes 1 to %d values", maxInValues))
				return
			}
		}
	}
	now := s.opts.Now().UTC()
	s.mu.Lock()
	var hits []*row
	for _, rw := range t.rows {
		if rw.archived || now.Sub(rw.updated) < s.opts.IndexLag {
			continue
		}
		ok := len(body.FilterGroups) == 0
		for _, g := range body.FilterGroups {
			all := true
			for _, f := range g.Filters {
				if !f.match(rw) {
					all = false
					break
				}
			}
			ok = ok || all
		}
		if ok {
			hits = append(hits, rw)
		}
	}
	if len(body.Sorts) == 1 {
		p := body.Sorts[0].PropertyName
		slices.SortStableFunc(hits, func(a, b *row) int {
			d := compare(a.props[p], b.props[p])
			if body.Sorts[0].Direction == "DESCENDING" {
				return -d
			}
			return d
		})
	}
	end := min(after+limit, len(hits))
	var results []map[string]any
	for _, rw := range hits[min(after, end):end] {
		results = append(results, view(t, rw, body.Properties))
	}
	s.mu.Unlock()
	resp := map[string]any{"total": len(hits), "results": nonNil(results)}
	if end < len(hits) {
		resp["paging"] = map[string]any{"next": map[string]any{"after": strconv.Itoa(end)}}
	}
	writeJSON(w, http.StatusOK, resp)
}

// compare orders property values: as numbers (and dates as milliseconds)
// when both read so, else as text.
func compare(a, b string) int {
	na, ea := number(a)
	nb, eb := number(b)
	if ea && eb {
		switch {
		case na < nb:
			return -1
		case na > nb:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}

func number(v string) (int64, bool) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UnixMilli(), true
	}
	return 0, false
}

func (f filter) match(r *row) bool {
	got, has := r.props[f.PropertyName]
	if f.PropertyName == "hs_object_id" {
		got, has = r.id, true
	}
	want := fmt.Sprint(f.Value)
	switch f.Operator {
	case "IN":
		return has && slices.Contains(f.Values, got)
	case "EQ":
		return has && got == want
	case "NEQ":
		return !has || got != want
	case "GTE":
		return has && compare(got, want) >= 0
	case "LTE":
		return has && compare(got, want) <= 0
	case "GT":
		return has && compare(got, want) > 0
	case "LT":
		return has && compare(got, want) < 0
	}
	return false
}
