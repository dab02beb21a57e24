package fakezoho

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The COQL the fake understands, which is what callbridge sends (Query
// API):
//
//	select f, f from Module where f in ('v', …) [limit n]
//	select f, f from Module where f = 'v' [limit n]
//
// IN takes at most 50 values and LIMIT at most 2,000 ("Query API -
// Limitations"); a query with no match is answered 204. Anything else is
// SYNTAX_ERROR, an unknown field INVALID_QUERY, as Zoho answers (400).
type query struct {
	fields []string
	module string
	field  string
	values []string
	limit  int
}

func tokens(q string) ([]string, error) {
	var out []string
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == ',' || c == '(' || c == ')' || c == '=':
			out = append(out, string(c))
			i++
		case c == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(q) {
					return nil, fmt.Errorf("unterminated string")
				}
				if q[i] == '\\' && i+1 < len(q) {
					b.WriteByte(q[i+1])
					i += 2
					continue
				}
				if q[i] == '\'' {
					i++
					break
				}
				b.WriteByte(q[i])
				i++
			}
			out = append(out, "'"+b.String())
		default:
			j := i
			for j < len(q) && !strings.ContainsRune(" \t\n\r,()='", rune(q[j])) {
				j++
			}
			out = append(out, q[i:j])
			i = j
		}
	}
	return out, nil
}

func parseCOQL(q string) (*query, error) {
	t, err := tokens(q)
	if err != nil {
		return nil, err
	}
	pos := 0
	next := func() string {
		if pos >= len(t) {
			return ""
		}
		pos++
		return t[pos-1]
	}
	if !strings.EqualFold(next(), "select") {
		return nil, fmt.Errorf("expecting select")
	}
	out := &query{limit: 200}
	for {
		f := next()
		if f == "" || f == "," || strings.EqualFold(f, "from") {
			return nil, fmt.Errorf("expecting a field")
		}
		out.fields = append(out.fields, f)
		sep := next()
		if strings.EqualFold(sep, "from") {
			break
		}
		if sep != "," {
			return nil, fmt.Errorf("expecting , or from")
		}
	}
	if out.module = next(); out.module == "" {
		return nil, fmt.Errorf("expecting a module")
	}
	if !strings.EqualFold(next(), "where") {
		return nil, fmt.Errorf("expecting where")
	}
	out.field = next()
	switch op := strings.ToLower(next()); op {
	case "=":
		v := next()
		if !strings.HasPrefix(v, "'") {
			return nil, fmt.Errorf("expecting a string")
		}
		out.values = []string{v[1:]}
	case "in":
		if next() != "(" {
			return nil, fmt.Errorf("expecting (")
		}
		for {
			v := next()
			if !strings.HasPrefix(v, "'") {
				return nil, fmt.Errorf("expecting a string")
			}
			out.values = append(out.values, v[1:])
			sep := next()
			if sep == ")" {
				break
			}
			if sep != "," {
				return nil, fmt.Errorf("expecting , or )")
			}
		}
	default:
		return nil, fmt.Errorf("unexpected operator %q", op)
	}
	if w := next(); w != "" {
		if !strings.EqualFold(w, "limit") {
			return nil, fmt.Errorf("unexpected %q", w)
		}
		n, err := strconv.Atoi(next())
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad limit")
		}
		out.limit = n
	}
	if pos != len(t) {
		return nil, fmt.Errorf("unexpected %q", t[pos])
	}
	return out, nil
}

// coql is POST /coql. Credits go by LIMIT (1–200: 1, 201–1000: 2,
// 1001–2000: 3).
func (s *Server) coql(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var body struct {
		SelectQuery string `json:"select_query"`
	}
	if json.NewDecoder(bytes.NewReader(b)).Decode(&body) != nil || body.SelectQuery == "" {
		zErr(w, http.StatusBadRequest, "MANDATORY_NOT_FOUND", "required field not found", map[string]any{"api_name": "select_query"})
		return
	}
	q, err := parseCOQL(body.SelectQuery)
	if err != nil {
		zErr(w, http.StatusBadRequest, "SYNTAX_ERROR", "error occured while parsing the query: "+err.Error(), map[string]any{"clause": "where"})
		return
	}
	switch {
	case len(q.values) > 50:
		zErr(w, http.StatusBadRequest, "LIMIT_EXCEEDED", "in takes up to 50 values", map[string]any{"limit": 50})
		return
	case q.limit > 2000:
		zErr(w, http.StatusBadRequest, "LIMIT_EXCEEDED", "limit exceeds 2000", map[string]any{"limit": 2000})
		return
	}
	extra := 0
	switch {
	case q.limit > 1000:
		extra = 2
	case q.limit > 200:
		extra = 1
	}
	if !s.admit(w, 1+extra) {
		return
	}
	s.mu.Lock()
	s.inflight-- // admit counted it again; the request is already in flight
	m := s.modules[q.module]
	if m == nil {
		s.mu.Unlock()
		zErr(w, http.StatusBadRequest, "INVALID_QUERY", "invalid query formed", map[string]any{"reason": "the module name given seems to be invalid"})
		return
	}
	for _, f := range append(slices.Clone(q.fields), q.field) {
		if _, ok := m.fields[f]; !ok && f != "id" {
			s.mu.Unlock()
			zErr(w, http.StatusBadRequest, "INVALID_QUERY", "invalid query formed", map[string]any{"column_name": f, "reason": "column given seems to be invalid"})
			return
		}
	}
	var rows []map[string]any
	for _, rec := range m.rows {
		v, _ := rec.fields[q.field].(string)
		if q.field == "id" {
			v = rec.id
		}
		if !slices.Contains(q.values, v) {
			continue
		}
		row := map[string]any{}
		for _, f := range q.fields {
			row[f] = rec.fields[f]
		}
		row["id"] = rec.id
		rows = append(rows, row)
		if len(rows) == q.limit {
			break
		}
	}
	s.mu.Unlock()
	if len(rows) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": rows, "info": map[string]any{"count": len(rows), "more_records": false}})
}
