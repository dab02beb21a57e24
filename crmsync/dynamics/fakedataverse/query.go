package fakedataverse

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

func (s *Server) selectList(w http.ResponseWriter, entity string, attrs map[string]bool, q url.Values) ([]string, bool) {
	for k := range q {
		switch k {
		case "$select", "$filter", "$top", "$skiptoken":
		default:
			dvErr(w, http.StatusBadRequest, "0x80060888", "The query parameter '%s' is not supported by this service.", k)
			return nil, false
		}
	}
	var sel []string
	if v := q.Get("$select"); v != "" {
		sel = strings.Split(v, ",")
		for _, a := range sel {
			if !attrs[a] {
				dvErr(w, http.StatusBadRequest, "0x80060888", "Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'.", a, entity)
				return nil, false
			}
		}
	}
	return sel, true
}

func project(r Record, sel []string) Record {
	out := Record{"@odata.etag": `W/"1"`}
	if sel == nil {
		for k, v := range r {
			out[k] = v
		}
		return out
	}
	for _, a := range sel {
		out[a] = r[a]
	}
	return out
}

// cond is one comparison of a $filter: attr op value.
type cond struct {
	attr, op string
	val      any // string, time.Time or float64
}

// parseFilter reads the conjunctions callbridge sends: "a eq 'x' and b ge
// 2026-01-01T00:00:00Z and c eq <guid>". Anything else is refused.
func parseFilter(f string, attrs map[string]bool) ([]cond, error) {
	if f == "" {
		return nil, nil
	}
	var out []cond
	for _, part := range splitAnd(f) {
		fs := strings.SplitN(strings.TrimSpace(part), " ", 3)
		if len(fs) != 3 {
			return nil, fmt.Errorf("syntax error at %q", part)
		}
		c := cond{attr: fs[0], op: fs[1]}
		if !attrs[c.attr] {
			return nil, fmt.Errorf("Could not find a property named '%s'", c.attr)
		}
		switch c.op {
		case "eq", "ne", "gt", "ge", "lt", "le":
		default:
			return nil, fmt.Errorf("operator %q not supported", c.op)
		}
		v := fs[2]
		switch {
		case strings.HasPrefix(v, "'") && strings.HasSuffix(v, "'") && len(v) >= 2:
			c.val = strings.ReplaceAll(v[1:len(v)-1], "''", "'")
		case guid.MatchString(v):
			c.val = strings.ToLower(v)
		default:
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				c.val = t
			} else if n, err := strconv.ParseFloat(v, 64); err == nil {
				c.val = n
			} else {
				return nil, fmt.Errorf("syntax error: literal %q", v)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// splitAnd splits on " and " outside string literals.
func splitAnd(f string) []string {
	var out []string
	inStr := false
	start := 0
	for i := 0; i < len(f); i++ {
		if f[i] == '\'' {
			inStr = !inStr
		}
		if !inStr && strings.HasPrefix(f[i:], " and ") {
			out = append(out, f[start:i])
			start = i + 5
			i += 4
		}
	}
	return append(out, f[start:])
}

func (c cond) match(r Record) bool {
	v := r[c.attr]
	var d int
	switch want := c.val.(type) {
	case string:
		got := fmt.Sprint(v)
		if guid.MatchString(want) {
			got = strings.ToLower(got)
		}
		d = strings.Compare(got, want)
	case time.Time:
		str, _ := v.(string)
		t, err := time.Parse(time.RFC3339, str)
		if err != nil {
			return false
		}
		d = t.Compare(want)
	case float64:
		n, err := asInt(v)
		if err != nil {
			return false
		}
		switch {
		case float64(n) < want:
			d = -1
		case float64(n) > want:
			d = 1
		}
	}
	switch c.op {
	case "eq":
		return d == 0
	case "ne":
		return d != 0
	case "gt":
		return d > 0
	case "ge":
		return d >= 0
	case "lt":
		return d < 0
	default:
		return d <= 0
	}
}

func (s *Server) query(w http.ResponseWriter, set string, q url.Values, h http.Header, origin, path string) {
	var attrs map[string]bool
	entity := strings.TrimSuffix(set, "s")
	if set == "phonecalls" {
		attrs = s.pcAttrs
	} else {
		attrs = s.tables[set].attrs
	}
	sel, ok := s.selectList(w, entity, attrs, q)
	if !ok {
		return
	}
	conds, err := parseFilter(q.Get("$filter"), attrs)
	if err != nil {
		dvErr(w, http.StatusBadRequest, "0x80060888", "Invalid $filter: %v", err)
		return
	}
	page := s.opts.MaxPageSize
	for _, p := range strings.Split(h.Get("Prefer"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "odata.maxpagesize="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				page = min(n, s.opts.MaxPageSize)
			}
		}
	}
	top := -1
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			dvErr(w, http.StatusBadRequest, "0x80060888", "Invalid $top %q", v)
			return
		}
		top = n
	}
	skip := 0
	if v := q.Get("$skiptoken"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			dvErr(w, http.StatusBadRequest, "0x80060888", "Invalid $skiptoken")
			return
		}
		skip = n
	}
	s.mu.Lock()
	var order []string
	var rows map[string]Record
	if set == "phonecalls" {
		order, rows = s.pcOrder, s.phonecalls
	} else {
		order, rows = s.tables[set].order, s.tables[set].rows
	}
	var out []Record
	next := -1
	matched := 0
	for i := skip; i < len(order); i++ {
		r := rows[order[i]]
		ok := true
		for _, c := range conds {
			if !c.match(r) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if top >= 0 && matched >= top {
			break
		}
		if len(out) == page {
			next = i
			break
		}
		matched++
		out = append(out, annotate(project(r, sel), r, h))
	}
	s.mu.Unlock()
	resp := map[string]any{"@odata.context": origin + APIPath + "$metadata#" + set, "value": out}
	if out == nil {
		resp["value"] = []Record{}
	}
	if next >= 0 {
		nq := url.Values{}
		for k, v := range q {
			if k != "$skiptoken" {
				nq[k] = v
			}
		}
		nq.Set("$skiptoken", strconv.Itoa(next))
		resp["@odata.nextLink"] = origin + APIPath + strings.SplitN(path, "?", 2)[0] + "?" + strings.ReplaceAll(nq.Encode(), "+", "%20")
	}
	writeJSON(w, resp)
}
