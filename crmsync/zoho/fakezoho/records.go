package fakezoho

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// listRecords is GET /{module}: fields is mandatory (from API v3), at most
// 200 a page; past 2,000 records only with page_token; If-Modified-Since
// leaves out older records and answers 304 when none is left; an empty
// module is 204.
func (s *Server) listRecords(w http.ResponseWriter, r *http.Request, mod string) {
	q := r.URL.Query()
	if q.Get("fields") == "" {
		zErr(w, http.StatusBadRequest, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", map[string]any{"param": "fields"})
		return
	}
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per < 1 || per > 200 {
		zErr(w, http.StatusBadRequest, "INVALID_DATA", "invalid data", map[string]any{"param": "per_page", "maximum_length": 200})
		return
	}
	from := 0
	if tok := q.Get("page_token"); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "pt"))
		if err != nil || n < 0 {
			zErr(w, http.StatusBadRequest, "INVALID_DATA", "invalid page token", map[string]any{"param": "page_token"})
			return
		}
		from = n
	} else {
		page, err := strconv.Atoi(q.Get("page"))
		if err != nil || page < 1 {
			page = 1
		}
		from = (page - 1) * per
		if from+per > 2000 {
			zErr(w, http.StatusBadRequest, "DISCRETE_PAGINATION_LIMIT_EXCEEDED", "use page_token to fetch more than 2000 records", nil)
			return
		}
	}
	var since time.Time
	if v := r.Header.Get("If-Modified-Since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			zErr(w, http.StatusBadRequest, "INVALID_DATA", "invalid If-Modified-Since", nil)
			return
		}
		since = t
	}
	fields := strings.Split(q.Get("fields"), ",")
	s.mu.Lock()
	m := s.modules[mod]
	var rows []*record
	for _, rec := range m.rows {
		if since.IsZero() || rec.modified.After(since) {
			rows = append(rows, rec)
		}
	}
	slices.SortStableFunc(rows, func(a, b *record) int { return a.modified.Compare(b.modified) })
	end := min(from+per, len(rows))
	var data []map[string]any
	for _, rec := range rows[min(from, end):end] {
		row := map[string]any{"id": rec.id}
		for _, f := range fields {
			if _, known := m.fields[f]; known {
				row[f] = rec.fields[f]
			}
		}
		data = append(data, row)
	}
	total := len(m.rows)
	s.mu.Unlock()
	switch {
	case total == 0:
		w.WriteHeader(http.StatusNoContent)
		return
	case len(rows) == 0 && !since.IsZero():
		w.WriteHeader(http.StatusNotModified)
		return
	}
	info := map[string]any{"per_page": per, "count": len(data), "more_records": end < len(rows)}
	if end < len(rows) {
		info["next_page_token"] = "pt" + strconv.Itoa(end)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": nonNil(data), "info": info})
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
