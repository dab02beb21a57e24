package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/callbridge/callbridge/crmsync/webhook"
)

// This file is a small JSON Schema (draft 2020-12) validator for the
// keywords body.schema.json uses, so the test needs no dependency. A
// keyword it does not implement fails the test (rather than passing
// silently), so the schema cannot outgrow it unnoticed.

type schema struct {
	root map[string]any
}

func loadSchema(t testing.TB) *schema {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(webhook.Schema, &root); err != nil {
		t.Fatalf("body.schema.json: %v", err)
	}
	return &schema{root: root}
}

// validate returns every violation of the schema by the JSON document b.
func (s *schema) validate(b []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	if dec.More() {
		return []string{"trailing data after the JSON value"}
	}
	var errs []string
	s.check(s.root, doc, "$", &errs)
	return errs
}

func (s *schema) check(sch map[string]any, v any, at string, errs *[]string) {
	fail := func(format string, args ...any) { *errs = append(*errs, at+": "+fmt.Sprintf(format, args...)) }
	keys := make([]string, 0, len(sch))
	for k := range sch {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		arg := sch[k]
		switch k {
		case "$schema", "$id", "title", "description", "$defs":
		case "$ref":
			ref, _ := arg.(string)
			target, ok := s.resolve(ref)
			if !ok {
				fail("schema: unresolvable $ref %q", ref)
				continue
			}
			s.check(target, v, at, errs)
		case "type":
			var types []string
			switch a := arg.(type) {
			case string:
				types = []string{a}
			case []any:
				for _, x := range a {
					types = append(types, x.(string))
				}
			}
			ok := false
			for _, t := range types {
				ok = ok || isType(v, t)
			}
			if !ok {
				fail("want type %v, have %s", types, typeOf(v))
			}
		case "enum":
			ok := false
			for _, e := range arg.([]any) {
				ok = ok || equal(e, v)
			}
			if !ok {
				fail("%v is not one of %v", v, arg)
			}
		case "required":
			if o, ok := v.(map[string]any); ok {
				for _, r := range arg.([]any) {
					if _, has := o[r.(string)]; !has {
						fail("%q required", r)
					}
				}
			}
		case "properties":
			if o, ok := v.(map[string]any); ok {
				for name, sub := range arg.(map[string]any) {
					if x, has := o[name]; has {
						s.check(sub.(map[string]any), x, at+"."+name, errs)
					}
				}
			}
		case "additionalProperties":
			o, ok := v.(map[string]any)
			if !ok {
				continue
			}
			allowed, _ := arg.(bool)
			if allowed {
				continue
			}
			props, _ := sch["properties"].(map[string]any)
			for name := range o {
				if _, known := props[name]; !known {
					fail("%q not allowed", name)
				}
			}
		case "items":
			if a, ok := v.([]any); ok {
				for i, x := range a {
					s.check(arg.(map[string]any), x, fmt.Sprintf("%s[%d]", at, i), errs)
				}
			}
		case "minLength", "maxLength":
			str, ok := v.(string)
			if !ok {
				continue
			}
			n, _ := arg.(float64)
			if l := utf8.RuneCountInString(str); (k == "minLength" && float64(l) < n) || (k == "maxLength" && float64(l) > n) {
				fail("length %d breaks %s %v", l, k, n)
			}
		case "pattern":
			if str, ok := v.(string); ok {
				re, err := regexp.Compile(arg.(string))
				if err != nil {
					fail("schema: pattern %q: %v", arg, err)
				} else if !re.MatchString(str) {
					fail("%q does not match %s", str, arg)
				}
			}
		case "minimum":
			if n, ok := v.(json.Number); ok {
				x, _ := new(big.Float).SetString(n.String())
				if x != nil && x.Cmp(big.NewFloat(arg.(float64))) < 0 {
					fail("%s is below the minimum %v", n, arg)
				}
			}
		case "format":
			str, ok := v.(string)
			if !ok {
				continue
			}
			switch arg {
			case "date-time":
				if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
					fail("%q is not an RFC 3339 date-time", str)
				}
			default:
				fail("schema: format %q not implemented by this validator", arg)
			}
		default:
			fail("schema: keyword %q not implemented by this validator", k)
		}
	}
}

// resolve follows a local JSON pointer ("#/$defs/time").
func (s *schema) resolve(ref string) (map[string]any, bool) {
	p, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, false
	}
	var cur any = s.root
	for _, part := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if part == "" {
			continue
		}
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur = m[part]
	}
	m, ok := cur.(map[string]any)
	return m, ok
}

func isType(v any, t string) bool {
	switch t {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, _, err := big.ParseFloat(n.String(), 10, 200, big.ToNearestEven)
		return err == nil && f.IsInt()
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	}
	return false
}

func typeOf(v any) string {
	for _, t := range []string{"null", "boolean", "string", "number", "object", "array"} {
		if isType(v, t) {
			return t
		}
	}
	return fmt.Sprintf("%T", v)
}

// equal compares a schema value (decoded without UseNumber) with an
// instance value (decoded with it).
func equal(schemaValue, v any) bool {
	switch x := schemaValue.(type) {
	case float64:
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, err := n.Float64()
		return err == nil && f == x
	case string, bool, nil:
		return schemaValue == v
	}
	return false
}

// undocumented are the body's top-level keys the schema does not
// describe. The schema lets receivers accept new keys, so validation
// alone would not notice a key added to the body and not to the schema.
func (s *schema) undocumented(b []byte) []string {
	var o map[string]json.RawMessage
	if err := json.Unmarshal(b, &o); err != nil {
		return []string{"not an object"}
	}
	props, _ := s.root["properties"].(map[string]any)
	var out []string
	for k := range o {
		if _, ok := props[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// checkBody fails t unless b is a valid, fully documented body.
func checkBody(t testing.TB, s *schema, b []byte) {
	t.Helper()
	for _, e := range s.validate(b) {
		t.Errorf("body breaks body.schema.json: %s\nbody: %s", e, b)
	}
	if u := s.undocumented(b); len(u) > 0 {
		t.Errorf("body keys %v are not in body.schema.json", u)
	}
}

// checkUpdate fails t unless b is a valid activity.update body
// (#/$defs/update, which allows no other keys).
func checkUpdate(t testing.TB, s *schema, b []byte) {
	t.Helper()
	sub, ok := s.resolve("#/$defs/update")
	if !ok {
		t.Fatal("body.schema.json has no $defs/update")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("update not JSON: %v", err)
	}
	var errs []string
	s.check(sub, doc, "$", &errs)
	for _, e := range errs {
		t.Errorf("update breaks body.schema.json#/$defs/update: %s\nbody: %s", e, b)
	}
}

// TestSchemaValidatorRefuses proves the validator is not vacuous: each
// broken body is refused with the reason expected.
func TestSchemaValidatorRefuses(t *testing.T) {
	s := loadSchema(t)
	good := `{"id":"a1","call_id":"c","user":"101","local_number":"101","direction":"inbound","internal":false,` +
		`"state":"connected","reason":"answered","remote_number":"+358401234567","started_at":"2026-11-21T16:11:10.009Z",` +
		`"ended_at":"2026-11-21T16:11:14.027Z","ring_seconds":2.005,"talk_seconds":2.013,"privacy":"work","source":"ari",` +
		`"crm_user":null,"template":"","matches":[],"completed":true,"wrap_up":null}`
	if errs := s.validate([]byte(good)); len(errs) > 0 {
		t.Fatalf("good body refused: %v", errs)
	}
	for _, c := range []struct{ from, to, want string }{
		{`"template":""`, `"template":7`, `$.template: want type [string]`},
		{`,"wrap_up":null`, ``, `"wrap_up" required`},
		{`"completed":true`, `"completed":"yes"`, `$.completed: want type [boolean]`},
		{`"wrap_up":null`, `"wrap_up":{"code":"SALE"}`, `$.wrap_up: "notes" required`},
		{`"direction":"inbound"`, `"direction":"sideways"`, `$.direction: sideways is not one of`},
		{`"crm_user":null`, `"crm_user":{"id":"005","email":"a@example.com"}`, `$.crm_user: "mapped" required`},
		{`"crm_user":null`, `"crm_user":{"id":"005","email":"","mapped":true,"extra":1}`, `$.crm_user: "extra" not allowed`},
		{`"matches":[]`, `"matches":[{"connector":"sf","entity":"Contact","type":"robot","id":"003","name":"","url":"","org":"","exact":true}]`, `$.matches[0].type`},
		{`"matches":[]`, `"matches":{}`, `$.matches: want type [array]`},
		{`"started_at":"2026-11-21T16:11:10.009Z"`, `"started_at":"2026-11-21 16:11:10"`, `$.started_at: "2026-11-21 16:11:10" is not an RFC 3339`},
		{`"ring_seconds":2.005`, `"ring_seconds":-1`, `$.ring_seconds: -1 is below the minimum`},
		{`"id":"a1"`, `"id":""`, `$.id: length 0 breaks minLength`},
		{`"internal":false`, `"internal":"no"`, `$.internal: want type [boolean]`},
	} {
		bad := strings.Replace(good, c.from, c.to, 1)
		if bad == good {
			t.Fatalf("case %q: nothing replaced", c.want)
		}
		errs := s.validate([]byte(bad))
		if !strings.Contains(strings.Join(errs, "\n"), c.want) {
			t.Errorf("%s: errors %q, want one containing %q", c.to, errs, c.want)
		}
	}
	if u := s.undocumented([]byte(strings.Replace(good, `"id":"a1"`, `"id":"a1","mystery":1`, 1))); len(u) != 1 || u[0] != "mystery" {
		t.Errorf("undocumented = %v, want [mystery]", u)
	}
	// A keyword the validator does not know fails loudly.
	s2 := &schema{root: map[string]any{"oneOf": []any{}}}
	if errs := s2.validate([]byte(`{}`)); len(errs) != 1 || !strings.Contains(errs[0], "not implemented") {
		t.Errorf("unknown keyword: %v", errs)
	}
}
