package fakecreatio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	guidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	keyRE    = regexp.MustCompile(`^([A-Za-z]+)\(([0-9a-fA-F-]{36})\)$`)
	expandRE = regexp.MustCompile(`^([A-Za-z]+)\(\$select=([A-Za-z0-9_,]+)\)$`)
)

// maxTop bounds $top (Creatio's OData 4 service pages at 20,000 rows).
const maxTop = 20000

func (s *Server) odata(w http.ResponseWriter, r *http.Request, path string) {
	if m := keyRE.FindStringSubmatch(path); m != nil {
		s.mu.Lock()
		t := s.tables[m[1]]
		var row Row
		if t != nil {
			row = t.rows[strings.ToLower(m[2])]
		}
		s.mu.Unlock()
		switch {
		case t == nil:
			odataErr(w, http.StatusNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", m[1]))
		case r.Method != http.MethodGet:
			odataErr(w, http.StatusMethodNotAllowed, "The HTTP method is not supported for this resource.")
		case row == nil:
			odataErr(w, http.StatusNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", path))
		default:
			writeJSON(w, http.StatusOK, row)
		}
		return
	}
	s.mu.Lock()
	t := s.tables[path]
	s.mu.Unlock()
	if t == nil {
		odataErr(w, http.StatusNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", path))
		return
	}
	switch r.Method {
	case http.MethodPost:
		s.create(w, r, path, t)
	case http.MethodGet:
		s.query(w, r.URL.Query(), path, t)
	default:
		odataErr(w, http.StatusMethodNotAllowed, "The HTTP method is not supported for this resource.")
	}
}

// create is POST /<Entity>: every property must exist on the entity and
// have the column's type (OData 4: "The property 'X' does not exist on
// type 'Terrasoft.Configuration.X'"); the Id may be chosen by the client
// and, once taken, refuses a second row.
func (s *Server) create(w http.ResponseWriter, r *http.Request, name string, t *table) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		odataErr(w, http.StatusUnsupportedMediaType, "The content type is not supported; use application/json.")
		return
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	var in map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		odataErr(w, http.StatusBadRequest, "The request body is not valid JSON.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	row := Row{}
	for k, v := range in {
		typ, ok := t.cols[k]
		if !ok {
			odataErr(w, http.StatusBadRequest, fmt.Sprintf("The property '%s' does not exist on type 'Terrasoft.Configuration.%s'. Make sure to only use property names that are defined by the type.", k, name))
			return
		}
		if msg := s.check(k, typ, v); msg != "" {
			odataErr(w, http.StatusBadRequest, msg)
			return
		}
		row[k] = v
	}
	if id, ok := row["Id"].(string); ok {
		if _, taken := t.rows[strings.ToLower(id)]; taken {
			// The database refuses the row; the service answers 500 with
			// the duplicate key.
			odataErr(w, http.StatusInternalServerError, fmt.Sprintf("Violation of PRIMARY KEY constraint 'PK%s'. Cannot insert duplicate key in object 'dbo.%s'. The duplicate key value is (%s).", name, name, id))
			return
		}
	}
	for k, v := range row {
		if n, ok := v.(json.Number); ok {
			i, _ := n.Int64()
			row[k] = i
		}
	}
	s.put(name, row)
	writeJSON(w, http.StatusCreated, row)
}

func (s *Server) check(k, typ string, v any) string {
	kind, arg, _ := strings.Cut(typ, ":")
	bad := func(want string) string {
		return fmt.Sprintf("Cannot convert the literal '%v' to the expected type '%s' of property '%s'.", v, want, k)
	}
	if v == nil {
		return ""
	}
	switch kind {
	case "readonly":
		return fmt.Sprintf("The property '%s' cannot be set.", k)
	case "key":
		if str, ok := v.(string); !ok || !guidRE.MatchString(str) {
			return bad("Edm.Guid")
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return bad("Edm.String")
		}
		n, _ := strconv.Atoi(arg)
		if utf8.RuneCountInString(str) > n {
			return fmt.Sprintf("The value of '%s' is longer than %d characters.", k, n)
		}
	case "text":
		if _, ok := v.(string); !ok {
			return bad("Edm.String")
		}
	case "int":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			return bad("Edm.Int32")
		}
	case "bool":
		if _, ok := v.(bool); !ok {
			return bad("Edm.Boolean")
		}
	case "datetime":
		str, ok := v.(string)
		if _, err := time.Parse(time.RFC3339, str); !ok || err != nil {
			return bad("Edm.DateTimeOffset")
		}
	case "ref":
		str, ok := v.(string)
		if !ok || !guidRE.MatchString(str) {
			return bad("Edm.Guid")
		}
		if s.tables[arg].rows[strings.ToLower(str)] == nil {
			return fmt.Sprintf("The %s with Id %s does not exist (property '%s').", arg, str, k)
		}
	}
	return ""
}

type cond struct {
	col, op string
	val     any
}

// parseFilter reads "Col op value [and …]" with op eq or ge, values
// 'strings', integers, GUIDs and Edm.DateTimeOffset.
func parseFilter(f string, t *table) ([]cond, error) {
	if f == "" {
		return nil, nil
	}
	var out []cond
	for _, part := range strings.Split(f, " and ") {
		fs := strings.SplitN(strings.TrimSpace(part), " ", 3)
		if len(fs) != 3 || (fs[1] != "eq" && fs[1] != "ge") {
			return nil, fmt.Errorf("syntax error at '%s'", part)
		}
		if _, ok := t.cols[fs[0]]; !ok {
			return nil, fmt.Errorf("could not find a property named '%s'", fs[0])
		}
		c := cond{col: fs[0], op: fs[1]}
		v := fs[2]
		switch {
		case strings.HasPrefix(v, "'") && strings.HasSuffix(v, "'") && len(v) > 1:
			c.val = strings.ReplaceAll(v[1:len(v)-1], "''", "'")
		case guidRE.MatchString(v):
			c.val = strings.ToLower(v)
		default:
			if tm, err := time.Parse(time.RFC3339, v); err == nil {
				c.val = tm
			} else if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				c.val = n
			} else {
				return nil, fmt.Errorf("syntax error: literal '%s'", v)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func (c cond) match(r Row) bool {
	got := r[c.col]
	var d int
	switch want := c.val.(type) {
	case string:
		d = strings.Compare(strings.ToLower(fmt.Sprint(got)), strings.ToLower(want))
	case int64:
		n, ok := got.(int64)
		if ok && n == want {
			d = 0
		} else if ok && n < want {
			d = -1
		} else {
			d = 1
		}
	case time.Time:
		t, err := time.Parse(time.RFC3339, fmt.Sprint(got))
		if err != nil {
			return false
		}
		d = t.Compare(want)
	}
	if c.op == "eq" {
		return d == 0
	}
	return d >= 0
}

// query is GET /<Entity> with $select, $filter, $orderby, $top, $skip and
// one $expand of a lookup with its own $select.
func (s *Server) query(w http.ResponseWriter, q url.Values, name string, t *table) {
	for k := range q {
		switch k {
		case "$select", "$filter", "$orderby", "$top", "$skip", "$expand":
		default:
			odataErr(w, http.StatusBadRequest, fmt.Sprintf("The query parameter '%s' is not supported.", k))
			return
		}
	}
	var sel []string
	if v := q.Get("$select"); v != "" {
		sel = strings.Split(v, ",")
		for _, c := range sel {
			if _, ok := t.cols[c]; !ok {
				odataErr(w, http.StatusBadRequest, fmt.Sprintf("Could not find a property named '%s' on type 'Terrasoft.Configuration.%s'.", c, name))
				return
			}
		}
	}
	conds, err := parseFilter(q.Get("$filter"), t)
	if err != nil {
		odataErr(w, http.StatusBadRequest, "Invalid $filter: "+err.Error())
		return
	}
	var order []string
	if v := q.Get("$orderby"); v != "" {
		order = strings.Split(v, ",")
		for _, c := range order {
			if _, ok := t.cols[c]; !ok {
				odataErr(w, http.StatusBadRequest, "Invalid $orderby: "+c)
				return
			}
		}
	}
	top, skip := maxTop, 0
	if v := q.Get("$top"); v != "" {
		if top, err = strconv.Atoi(v); err != nil || top < 0 || top > maxTop {
			odataErr(w, http.StatusBadRequest, "Invalid $top")
			return
		}
	}
	if v := q.Get("$skip"); v != "" {
		if skip, err = strconv.Atoi(v); err != nil || skip < 0 {
			odataErr(w, http.StatusBadRequest, "Invalid $skip")
			return
		}
	}
	var expand, expandSel []string
	if v := q.Get("$expand"); v != "" {
		m := expandRE.FindStringSubmatch(v)
		if m == nil || !strings.HasPrefix(t.cols[m[1]+"Id"], "ref:") {
			odataErr(w, http.StatusBadRequest, "Invalid $expand: "+v)
			return
		}
		expand, expandSel = []string{m[1]}, strings.Split(m[2], ",")
	}
	s.mu.Lock()
	var rows []Row
	for _, id := range t.order {
		row, ok := t.rows[id]
		if !ok {
			continue
		}
		hit := true
		for _, c := range conds {
			hit = hit && c.match(row)
		}
		if hit {
			rows = append(rows, row)
		}
	}
	slices.SortStableFunc(rows, func(a, b Row) int {
		for _, c := range order {
			if d := strings.Compare(fmt.Sprint(a[c]), fmt.Sprint(b[c])); d != 0 {
				return d
			}
		}
		return 0
	})
	end := min(skip+top, len(rows))
	var out []Row
	for _, row := range rows[min(skip, end):end] {
		o := Row{}
		for k, v := range row {
			if sel == nil || slices.Contains(sel, k) {
				o[k] = v
			}
		}
		for _, nav := range expand {
			target := s.tables[strings.TrimPrefix(t.cols[nav+"Id"], "ref:")]
			if ref, ok := target.rows[fmt.Sprint(row[nav+"Id"])]; ok {
				e := Row{}
				for _, c := range expandSel {
					e[c] = ref[c]
				}
				o[nav] = e
			} else {
				o[nav] = nil
			}
		}
		out = append(out, o)
	}
	s.mu.Unlock()
	if out == nil {
		out = []Row{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": "$metadata#" + name, "value": out})
}
