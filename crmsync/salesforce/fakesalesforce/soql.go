package fakesalesforce

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The SOQL the fake understands, which is what callbridge sends (SOQL and
// SOSL Reference):
//
//	SELECT f, f, … FROM Object [WHERE cond AND cond …] [ORDER BY f] [LIMIT n]
//	cond: f = v | f != v | f >= v | f <= v | f > v | f < v | f IN (v, v, …)
//	v:    'string' (backslash escapes) | true | false | null | dateTime | number
//
// Anything else is MALFORMED_QUERY; an unknown field INVALID_FIELD, an
// unknown object INVALID_TYPE, as Salesforce answers (400).

type soql struct {
	fields []string
	object string
	where  []cond
	order  string
	limit  int
}

type cond struct {
	field, op string
	vals      []any // string, bool, nil, time.Time, float64
}

type lexer struct {
	s   string
	pos int
}

func (l *lexer) space() {
	for l.pos < len(l.s) && strings.ContainsRune(" \t\r\n", rune(l.s[l.pos])) {
		l.pos++
	}
}

// word reads an identifier, keyword, operator or literal token.
func (l *lexer) word() (string, error) {
	l.space()
	if l.pos >= len(l.s) {
		return "", nil
	}
	start := l.pos
	c := l.s[l.pos]
	switch {
	case c == '\'':
		var b strings.Builder
		l.pos++
		for l.pos < len(l.s) {
			c := l.s[l.pos]
			switch {
			case c == '\\' && l.pos+1 < len(l.s):
				e := l.s[l.pos+1]
				switch e {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				case '\\', '\'', '"':
					b.WriteByte(e)
				default:
					return "", fmt.Errorf("invalid escape \\%c", e)
				}
				l.pos += 2
			case c == '\'':
				l.pos++
				return "'" + b.String(), nil // a leading quote marks a string
			default:
				b.WriteByte(c)
				l.pos++
			}
		}
		return "", fmt.Errorf("unterminated string at %d", start)
	case strings.ContainsRune("(),", rune(c)):
		l.pos++
		return string(c), nil
	case strings.ContainsRune("=!<>", rune(c)):
		l.pos++
		if l.pos < len(l.s) && l.s[l.pos] == '=' {
			l.pos++
		}
		return l.s[start:l.pos], nil
	}
	for l.pos < len(l.s) && !strings.ContainsRune(" \t\r\n(),=!<>'", rune(l.s[l.pos])) {
		l.pos++
	}
	return l.s[start:l.pos], nil
}

func (l *lexer) expect(want string) error {
	w, err := l.word()
	if err != nil {
		return err
	}
	if !strings.EqualFold(w, want) {
		return fmt.Errorf("expecting %s, found %q", want, w)
	}
	return nil
}

func literal(w string) (any, error) {
	switch {
	case strings.HasPrefix(w, "'"):
		return w[1:], nil
	case strings.EqualFold(w, "true"):
		return true, nil
	case strings.EqualFold(w, "false"):
		return false, nil
	case strings.EqualFold(w, "null"):
		return nil, nil
	}
	if t, err := time.Parse(time.RFC3339, w); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseFloat(w, 64); err == nil {
		return n, nil
	}
	return nil, fmt.Errorf("unexpected token %q", w)
}

func parseSOQL(q string) (*soql, error) {
	l := &lexer{s: q}
	if err := l.expect("SELECT"); err != nil {
		return nil, err
	}
	out := &soql{limit: -1}
	for {
		w, err := l.word()
		if err != nil || w == "" || w == "," || strings.EqualFold(w, "FROM") {
			return nil, fmt.Errorf("expecting a field, found %q", w)
		}
		out.fields = append(out.fields, w)
		sep, err := l.word()
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(sep, "FROM") {
			break
		}
		if sep != "," {
			return nil, fmt.Errorf("expecting ',' or FROM, found %q", sep)
		}
	}
	obj, err := l.word()
	if err != nil || obj == "" {
		return nil, fmt.Errorf("expecting an object")
	}
	out.object = obj
	w, err := l.word()
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(w, "WHERE") {
		for {
			c := cond{}
			if c.field, err = l.word(); err != nil || c.field == "" {
				return nil, fmt.Errorf("expecting a field in WHERE")
			}
			if c.op, err = l.word(); err != nil {
				return nil, err
			}
			switch strings.ToUpper(c.op) {
			case "=", "!=", ">=", "<=", ">", "<":
				v, err := l.word()
				if err != nil {
					return nil, err
				}
				lv, err := literal(v)
				if err != nil {
					return nil, err
				}
				c.vals = []any{lv}
			case "IN":
				c.op = "IN"
				if err := l.expect("("); err != nil {
					return nil, err
				}
				for {
					v, err := l.word()
					if err != nil {
						return nil, err
					}
					lv, err := literal(v)
					if err != nil {
						return nil, err
					}
					c.vals = append(c.vals, lv)
					sep, err := l.word()
					if err != nil {
						return nil, err
					}
					if sep == ")" {
						break
					}
					if sep != "," {
						return nil, fmt.Errorf("expecting ',' or ')' in IN")
					}
				}
			default:
				return nil, fmt.Errorf("unexpected operator %q", c.op)
			}
			out.where = append(out.where, c)
			if w, err = l.word(); err != nil {
				return nil, err
			}
			if !strings.EqualFold(w, "AND") {
				break
			}
		}
	}
	if strings.EqualFold(w, "ORDER") {
		if err := l.expect("BY"); err != nil {
			return nil, err
		}
		if out.order, err = l.word(); err != nil || out.order == "" {
			return nil, fmt.Errorf("expecting a field after ORDER BY")
		}
		if w, err = l.word(); err != nil {
			return nil, err
		}
		if strings.EqualFold(w, "ASC") {
			if w, err = l.word(); err != nil {
				return nil, err
			}
		}
	}
	if strings.EqualFold(w, "LIMIT") {
		n, err := l.word()
		if err != nil {
			return nil, err
		}
		if out.limit, err = strconv.Atoi(n); err != nil || out.limit < 0 {
			return nil, fmt.Errorf("bad LIMIT %q", n)
		}
		if w, err = l.word(); err != nil {
			return nil, err
		}
	}
	if w != "" {
		return nil, fmt.Errorf("unexpected token: %q", w)
	}
	return out, nil
}

// match compares as SOQL does: text comparisons ignore case.
func (c cond) match(r Record) bool {
	got := r[c.field]
	for _, want := range c.vals {
		d, ok := compare(got, want)
		var hit bool
		switch c.op {
		case "=", "IN":
			hit = ok && d == 0
		case "!=":
			hit = !ok || d != 0
		case ">=":
			hit = ok && d >= 0
		case "<=":
			hit = ok && d <= 0
		case ">":
			hit = ok && d > 0
		case "<":
			hit = ok && d < 0
		}
		if hit {
			return true
		}
	}
	return false
}

func compare(got, want any) (int, bool) {
	switch w := want.(type) {
	case nil:
		if got == nil || got == "" {
			return 0, true
		}
		return 1, true
	case string:
		g, ok := got.(string)
		return strings.Compare(strings.ToLower(g), strings.ToLower(w)), ok
	case bool:
		g, ok := got.(bool)
		if !ok || g != w {
			return 1, ok
		}
		return 0, true
	case time.Time:
		g, _ := got.(string)
		t, err := time.Parse("2006-01-02T15:04:05.000-0700", g)
		return t.Compare(w), err == nil
	case float64:
		g, err := strconv.ParseFloat(fmt.Sprint(got), 64)
		if err != nil {
			return 0, false
		}
		switch {
		case g < w:
			return -1, true
		case g > w:
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// query is GET /query?q=: the first page of the result, the rest behind
// nextRecordsUrl.
func (s *Server) query(w http.ResponseWriter, r *http.Request, base string) {
	q := r.URL.Query().Get("q")
	p, err := parseSOQL(q)
	if err != nil {
		sfErr(w, http.StatusBadRequest, "MALFORMED_QUERY", err.Error())
		return
	}
	s.mu.Lock()
	o := s.objects[p.object]
	if o == nil {
		s.mu.Unlock()
		sfErr(w, http.StatusBadRequest, "INVALID_TYPE", fmt.Sprintf("sObject type '%s' is not supported.", p.object))
		return
	}
	for _, f := range append(append([]string{}, p.fields...), p.order) {
		if f != "" && s.queryType(o, f) == "" {
			s.mu.Unlock()
			sfErr(w, http.StatusBadRequest, "INVALID_FIELD", fmt.Sprintf("No such column '%s' on entity '%s'.", f, p.object))
			return
		}
	}
	for _, c := range p.where {
		if s.queryType(o, c.field) == "" {
			s.mu.Unlock()
			sfErr(w, http.StatusBadRequest, "INVALID_FIELD", fmt.Sprintf("No such column '%s' on entity '%s'.", c.field, p.object))
			return
		}
	}
	var rows []Record
	for _, id := range o.order {
		row, ok := o.rows[id]
		if !ok {
			continue
		}
		all := true
		for _, c := range p.where {
			if !c.match(row) {
				all = false
				break
			}
		}
		if all {
			rows = append(rows, row)
		}
	}
	if p.order != "" {
		slices.SortStableFunc(rows, func(a, b Record) int { return strings.Compare(fmt.Sprint(a[p.order]), fmt.Sprint(b[p.order])) })
	}
	if p.limit >= 0 && len(rows) > p.limit {
		rows = rows[:p.limit]
	}
	out := make([]Record, len(rows))
	for i, row := range rows {
		rec := Record{"attributes": map[string]string{"type": p.object, "url": base + "sobjects/" + p.object + "/" + row["Id"].(string)}}
		for _, f := range p.fields {
			rec[f] = row[f]
		}
		out[i] = rec
	}
	cursor := newID("01g")
	s.cursors[cursor] = out
	s.mu.Unlock()
	s.page(w, cursor, 0, base)
}

// queryType is a field's type on o; Task's custom fields count.
func (s *Server) queryType(o *object, f string) string {
	if o.name == "Task" {
		return s.fieldType(f)
	}
	return o.fields[f]
}

// queryMore is GET /query/<cursor>-<offset>.
func (s *Server) queryMore(w http.ResponseWriter, loc, base string) {
	cursor, off, ok := strings.Cut(loc, "-")
	n, err := strconv.Atoi(off)
	s.mu.Lock()
	_, known := s.cursors[cursor]
	s.mu.Unlock()
	if !ok || err != nil || !known || n < 0 {
		sfErr(w, http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator")
		return
	}
	s.page(w, cursor, n, base)
}

func (s *Server) page(w http.ResponseWriter, cursor string, from int, base string) {
	s.mu.Lock()
	rows := s.cursors[cursor]
	s.mu.Unlock()
	end := min(from+s.opts.QueryBatch, len(rows))
	from = min(from, end)
	resp := map[string]any{"totalSize": len(rows), "done": end == len(rows), "records": rows[from:end]}
	if end < len(rows) {
		resp["nextRecordsUrl"] = base + "query/" + cursor + "-" + strconv.Itoa(end)
	}
	if rows[from:end] == nil {
		resp["records"] = []Record{}
	}
	writeJSON(w, http.StatusOK, resp)
}
