package script

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzRender: no template or value makes Parse or Render panic; what
// Parse accepts renders to a URL, and no value changes its structure:
// rendered with any values it has the query keys and the fragment
// presence it has with plain ones.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"https://www.google.com/search?q=#(Caller number)",
		"https://crm.example.com/main.aspx?pagetype=entityrecord&etn=$(Entity)&id=$(Id)",
		"mailto:$(emailaddress1)?subject=Call%20from%20#(Caller name)",
		"https://app.example.com/#/contacts?phone=#(Caller number:E164)&by=#(Device number)",
		"https://crm.example.com/people/#(Caller name)/calls?ddi=#(Ddi name)&at=#(Start time)",
		"tel:#(Caller number:E164)",
	} {
		f.Add(s, "Matti Meikäläinen", "+358401234567")
		f.Add(s, "Smith & Sons #1", "040 123 4567")
		f.Add(s, "a=b&c=d?e#f/g%h+i", "")
	}
	f.Fuzz(func(t *testing.T, tmpl, name, number string) {
		tm, err := Parse("fuzz", tmpl, func(f string) bool { return f == "emailaddress1" })
		if err != nil {
			return
		}
		plain, _ := tm.Render(Call{CallerName: "x", CallerNumber: "1", DDIName: "x", DeviceName: "x",
			Record: map[string]string{"id": "1", "name": "x", "entity": "x", "emailaddress1": "x"}})
		want, err := url.Parse(plain)
		if err != nil {
			t.Fatalf("%q renders %q, not a URL: %v", tmpl, plain, err)
		}
		c := Call{CallerName: name, CallerNumber: number, CallerNational: number, DDIName: name, DeviceName: name,
			DeviceNumber: number, Record: map[string]string{"id": name, "name": name, "entity": number, "emailaddress1": name}}
		got, ok := tm.Render(c)
		if !ok {
			t.Fatal("not rendered with a record")
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("%q with %q renders %q, not a URL: %v", tmpl, name, got, err)
		}
		if u.Scheme != want.Scheme || u.Host != want.Host {
			t.Fatalf("%q with %q: %q has a scheme or host of its own", tmpl, name, got)
		}
		// A value never adds a delimiter: the same '?' and '#', and after
		// the query starts the same '&' and '='.
		for _, d := range []string{"?", "#"} {
			if strings.Count(got, d) != strings.Count(plain, d) {
				t.Fatalf("%q with %q: %q has %q delimiters of its own (plain %q)", tmpl, name, got, d, plain)
			}
		}
		if i := strings.IndexAny(plain, "?#"); i >= 0 {
			j := strings.IndexAny(got, "?#")
			for _, d := range []string{"&", "=", "+"} {
				if strings.Count(got[j:], d) != strings.Count(plain[i:], d) {
					t.Fatalf("%q with %q: %q has %q of its own after the path (plain %q)", tmpl, name, got, d, plain)
				}
			}
		}
	})
}
