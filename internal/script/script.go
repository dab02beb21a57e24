package script

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Call is what a template is rendered with: one call of one agent and
// the CRM record the caller card matched.
type Call struct {
	// CallerNumber is the remote party's number as presented;
	// CallerNational and CallerE164 its two forms, empty when the number
	// does not normalise (an extension, "anonymous").
	CallerNumber, CallerNational, CallerE164 string
	// CallerName is the matched record's name, else the name the PBX
	// presented.
	CallerName string
	// DeviceName and DeviceNumber are the agent's: their directory name
	// and extension.
	DeviceName, DeviceNumber string
	// DDINumber (and its forms) is the number an external caller dialled,
	// DDIName its configured name (ddi_names).
	DDINumber, DDINational, DDIE164, DDIName string
	// Start is when the call started for the agent.
	Start time.Time
	// Record is the matched record's fields by lower-case name: "id",
	// "name", "entity" and its entity's fields. Nil: nothing matched.
	Record map[string]string
}

// Placeholders are the #(…) names, as the configuration writes them.
// Numbers render in the national form of default_region; ":E164" after
// a number's name asks for E.164 (#(Caller number:E164)).
var Placeholders = []string{"Caller number", "Caller name", "Device name", "Device number", "Ddi name", "Ddi number", "Start time"}

// RecordBuiltins are the $(…) fields every matched record has.
var RecordBuiltins = []string{"Id", "Name", "Entity"}

// part is where in a URL a placeholder stands, which says how its value
// is escaped.
type part uint8

const (
	inPath part = iota
	inQuery
	inFragment
)

type segment struct {
	literal string
	// a placeholder when literal is "": call names the #(…) value (its
	// lower-case name, ":e164" appended for that form), field the
	// $(…) one.
	call, field string
	part        part
}

// Template is a parsed URL template. Render is safe for concurrent use.
type Template struct {
	name     string
	segs     []segment
	needsRec bool
}

// Name is the name the template was parsed with (the script's).
func (t *Template) Name() string { return t.name }

// NeedsRecord reports whether the template uses a $(…) field: it renders
// only for a call that matched a record.
func (t *Template) NeedsRecord() bool { return t.needsRec }

// maxTemplate bounds a template; a URL longer than this is no link.
const maxTemplate = 4096

// Parse reads tmpl, a URL with #(…) and $(…) placeholders, for the script
// called name. field says whether a $(…) name is a field records have
// (lower-case; the built-ins are always known); nil knows none. Errors
// name the script and the placeholder.
func Parse(name, tmpl string, field func(lower string) bool) (*Template, error) {
	t, err := parse(name, tmpl, field)
	if err != nil {
		return nil, fmt.Errorf("script %q: %w", name, err)
	}
	return t, nil
}

func parse(name, tmpl string, field func(string) bool) (*Template, error) {
	if len(tmpl) > maxTemplate {
		return nil, fmt.Errorf("longer than %d characters", maxTemplate)
	}
	t := &Template{name: name}
	var lit strings.Builder
	st := newScanner(tmpl)
	for i := 0; i < len(tmpl); {
		c := tmpl[i]
		if (c == '#' || c == '$') && i+1 < len(tmpl) && tmpl[i+1] == '(' {
			end := strings.IndexByte(tmpl[i+2:], ')')
			if end < 0 {
				return nil, fmt.Errorf("%c( at %d is not closed with )", c, i)
			}
			inner := tmpl[i+2 : i+2+end]
			if lit.Len() > 0 {
				t.segs = append(t.segs, segment{literal: lit.String()})
				lit.Reset()
			}
			where, err := st.part()
			if err != nil {
				return nil, fmt.Errorf("%c(%s): %w", c, inner, err)
			}
			seg := segment{part: where}
			if c == '#' {
				seg.call, err = callName(inner)
			} else {
				seg.field, err = fieldName(inner, field)
				t.needsRec = true
			}
			if err != nil {
				return nil, err
			}
			t.segs = append(t.segs, seg)
			i += 3 + end
			continue
		}
		if c == ' ' || c < 0x20 || c == 0x7f {
			return nil, errors.New("a URL has no spaces or control characters (write %20, or put the text in a placeholder)")
		}
		lit.WriteByte(c)
		st.feed(c)
		i++
	}
	if lit.Len() > 0 {
		t.segs = append(t.segs, segment{literal: lit.String()})
	}
	if !st.schemed {
		return nil, errors.New("want an absolute URL: https://…, mailto:… (a scheme before any placeholder)")
	}
	// The template with placeholders filled must be a URL.
	if _, err := url.Parse(t.render(Call{}, "x")); err != nil {
		return nil, fmt.Errorf("not a URL: %v", unwrapURL(err))
	}
	return t, nil
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// callName checks a #(…) name: one of Placeholders, any case, with
// ":E164" after a number's.
func callName(inner string) (string, error) {
	base, form, hasForm := strings.Cut(inner, ":")
	lower := strings.ToLower(strings.TrimSpace(base))
	known := false
	for _, p := range Placeholders {
		if strings.ToLower(p) == lower {
			known = true
		}
	}
	switch {
	case !known:
		return "", fmt.Errorf("#(%s) is not a placeholder; known: #(%s)", inner, strings.Join(Placeholders, "), #("))
	case !hasForm:
		return lower, nil
	case !strings.EqualFold(form, "E164") && !strings.EqualFold(form, "E.164"):
		return "", fmt.Errorf("#(%s): the only form is :E164", inner)
	case lower != "caller number" && lower != "ddi number":
		return "", fmt.Errorf("#(%s): only numbers have an E.164 form", inner)
	}
	return lower + ":e164", nil
}

func fieldName(inner string, field func(string) bool) (string, error) {
	lower := strings.ToLower(strings.TrimSpace(inner))
	for _, b := range RecordBuiltins {
		if strings.ToLower(b) == lower {
			return lower, nil
		}
	}
	if lower == "" || field == nil || !field(lower) {
		return "", fmt.Errorf("$(%s) is not a field of the records recognition fetches (recognition.entities[].fields, or $(Id), $(Name), $(Entity))", inner)
	}
	return lower, nil
}

// Render fills the template for c. ok is false for a template that needs
// a record when c has none.
func (t *Template) Render(c Call) (string, bool) {
	if t.needsRec && c.Record == nil {
		return "", false
	}
	return t.render(c, ""), true
}

func (t *Template) render(c Call, filler string) string {
	var b strings.Builder
	for _, s := range t.segs {
		if s.literal != "" {
			b.WriteString(s.literal)
			continue
		}
		v := filler
		if filler == "" {
			if s.field != "" {
				v = c.Record[s.field]
			} else {
				v = c.value(s.call)
			}
		}
		b.WriteString(escape(v, s.part))
	}
	return b.String()
}

func (c Call) value(name string) string {
	either := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	switch name {
	case "caller number":
		return either(c.CallerNational, c.CallerNumber)
	case "caller number:e164":
		return either(c.CallerE164, c.CallerNumber)
	case "caller name":
		return c.CallerName
	case "device name":
		return c.DeviceName
	case "device number":
		return c.DeviceNumber
	case "ddi name":
		return c.DDIName
	case "ddi number":
		return either(c.DDINational, c.DDINumber)
	case "ddi number:e164":
		return either(c.DDIE164, c.DDINumber)
	case "start time":
		if c.Start.IsZero() {
			return ""
		}
		return c.Start.UTC().Format(time.RFC3339)
	}
	return ""
}

// escape writes v for its part of the URL: a path segment keeps what a
// segment may hold ('@' of a mailto: address, '+' of a tel: number) and
// escapes '/', '?', '#'; a query or fragment value escapes everything but
// the unreserved characters, so '&', '=', '+' and spaces (%20, which
// form decoding and mail clients both read) never change the URL's
// structure.
func escape(v string, p part) string {
	if p == inPath {
		return url.PathEscape(v)
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// scanner follows the literal text of a template to tell which part of
// the URL comes next: scheme, authority, path, query or fragment.
type scanner struct {
	tmpl    string
	seen    strings.Builder
	schemed bool // a scheme and its ':' have been read
	auth    bool // in the authority (after "//")
	where   part
	bad     bool // the text before the scheme's ':' is not a scheme
}

func newScanner(tmpl string) *scanner { return &scanner{tmpl: tmpl} }

func (s *scanner) feed(c byte) {
	s.seen.WriteByte(c)
	switch {
	case !s.schemed:
		if c == ':' {
			s.schemed = !s.bad && s.seen.Len() > 1
			if !s.schemed {
				s.bad = true
			}
			if strings.HasPrefix(s.tmpl[s.seen.Len():], "//") {
				s.auth = true
			}
			return
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || s.seen.Len() > 1 && (c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-')) {
			s.bad = true
		}
	case s.where == inFragment:
	case c == '#':
		s.auth, s.where = false, inFragment
	case c == '?':
		s.auth, s.where = false, inQuery
	case s.auth && c == '/' && !strings.HasSuffix(s.seen.String(), "://") && !strings.HasSuffix(s.seen.String(), ":/"):
		s.auth = false
	}
}

// part is where a placeholder standing here goes.
func (s *scanner) part() (part, error) {
	if !s.schemed || s.auth {
		return 0, errors.New("placeholders go in the path, query or fragment, not the scheme or host")
	}
	return s.where, nil
}
