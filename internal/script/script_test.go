package script

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

var call = Call{
	CallerNumber: "+358401234567", CallerNational: "0401234567", CallerE164: "+358401234567",
	CallerName: "Matti Meikäläinen", DeviceName: "Alice Andersson", DeviceNumber: "101",
	DDINumber: "+35850111222", DDINational: "050111222", DDIE164: "+35850111222", DDIName: "Support & Sales",
	Start: time.Date(2026, 12, 1, 10, 49, 37, 292e6, time.FixedZone("EET", 2*3600)),
	Record: map[string]string{"id": "00000000-0000-4000-8000-000000000001", "name": "Matti Meikäläinen",
		"entity": "contact", "emailaddress1": "matti@example.com", "accountnumber": "A#1 & 2"},
}

func fields(f string) bool { return f == "emailaddress1" || f == "accountnumber" }

func TestRender(t *testing.T) {
	for _, tt := range []struct{ name, tmpl, want string }{
		{"search", "https://www.google.com/search?q=#(Caller number)", "https://www.google.com/search?q=0401234567"},
		{"e164", "https://crm.example.com/find?phone=#(Caller number:E164)", "https://crm.example.com/find?phone=%2B358401234567"},
		{"any case", "https://crm.example.com/find?phone=#(caller NUMBER:e.164)", "https://crm.example.com/find?phone=%2B358401234567"},
		{"name in query", "https://crm.example.com/new?name=#(Caller name)", "https://crm.example.com/new?name=Matti%20Meik%C3%A4l%C3%A4inen"},
		{"name in path", "https://crm.example.com/people/#(Caller name)/calls", "https://crm.example.com/people/Matti%20Meik%C3%A4l%C3%A4inen/calls"},
		{"ampersand and hash", "https://crm.example.com/line?ddi=#(Ddi name)&n=#(Ddi number)", "https://crm.example.com/line?ddi=Support%20%26%20Sales&n=050111222"},
		{"record", "https://crm.example.com/main.aspx?etn=$(Entity)&id=$(Id)", "https://crm.example.com/main.aspx?etn=contact&id=00000000-0000-4000-8000-000000000001"},
		{"field in path", "https://crm.example.com/accounts/$(accountnumber)", "https://crm.example.com/accounts/A%231%20&%202"},
		{"field in query", "https://crm.example.com/a?n=$(AccountNumber)", "https://crm.example.com/a?n=A%231%20%26%202"},
		{"fragment", "https://app.example.com/#/contacts?phone=#(Caller number)&by=#(Device number)", "https://app.example.com/#/contacts?phone=0401234567&by=101"},
		{"mailto", "mailto:$(emailaddress1)?subject=Call%20from%20#(Caller name)&body=#(Start time)",
			"mailto:matti@example.com?subject=Call%20from%20Matti%20Meik%C3%A4l%C3%A4inen&body=2026-12-01T08%3A49%3A37Z"},
		{"tel", "tel:#(Caller number:E164)", "tel:+358401234567"},
		{"device", "https://crm.example.com/agent/#(Device name)?ext=#(Device number)", "https://crm.example.com/agent/Alice%20Andersson?ext=101"},
		{"literal dollar and hash", "https://crm.example.com/a$b?x=1#top", "https://crm.example.com/a$b?x=1#top"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := Parse(tt.name, tt.tmpl, fields)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := tm.Render(call)
			if !ok || got != tt.want {
				t.Errorf("got %q, %v\nwant %q", got, ok, tt.want)
			}
			if _, err := url.Parse(got); err != nil {
				t.Errorf("not a URL: %v", err)
			}
		})
	}
}

// The values read back from the rendered URL are the values put in,
// however awkward: spaces, &, #, =, +, '/', non-ASCII.
func TestEscapingRoundTrip(t *testing.T) {
	tm, err := Parse("s", "https://crm.example.com/p/#(Caller name)?name=#(Caller name)&n=#(Caller number)#frag=#(Caller name)", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Smith & Sons", "A#B", "x=1&y=2", "50% + tax", "a/b?c", "Ærø Østergård", "日本語", "  spaced  "} {
		c := Call{CallerName: name, CallerNumber: "+1 (555) 01&23"}
		s, _ := tm.Render(c)
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		seg := strings.TrimPrefix(u.Path, "/p/")
		q := u.Query()
		frag := strings.TrimPrefix(u.Fragment, "frag=")
		if seg != name || q.Get("name") != name || q.Get("n") != c.CallerNumber || len(q) != 2 || frag != name {
			t.Errorf("%q: path %q, query %v, fragment %q (from %s)", name, seg, q, frag, s)
		}
	}
}

// A template needing a record renders only for a call that has one.
func TestNeedsRecord(t *testing.T) {
	tm, _ := Parse("open", "https://crm.example.com/r/$(Id)", nil)
	if !tm.NeedsRecord() {
		t.Fatal("NeedsRecord false")
	}
	c := call
	c.Record = nil
	if s, ok := tm.Render(c); ok || s != "" {
		t.Errorf("rendered %q without a record", s)
	}
	plain, _ := Parse("search", "https://example.com/?q=#(Caller number)", nil)
	if s, ok := plain.Render(c); !ok || s == "" || plain.NeedsRecord() {
		t.Errorf("plain template: %q %v", s, ok)
	}
}

// Unknown placeholders and misplaced ones are errors naming the script.
func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ tmpl, want string }{
		{"https://x.example.com/?q=#(Caller nmber)", "#(Caller nmber) is not a placeholder"},
		{"https://x.example.com/?q=$(emailaddress2)", "$(emailaddress2) is not a field"},
		{"https://x.example.com/?q=#(Caller name:E164)", "only numbers have an E.164 form"},
		{"https://x.example.com/?q=#(Caller number:national)", "the only form is :E164"},
		{"https://x.example.com/?q=#(Caller number", "not closed"},
		{"https://#(Ddi name).example.com/", "not the scheme or host"},
		{"#(Caller number)", "not the scheme or host"},
		{"crm.example.com/?q=#(Caller number)", "not the scheme or host"},
		{"/search?q=x", "want an absolute URL"},
		{"https://x.example.com/a b", "no spaces"},
		{"https://x.example.com/%zz", "not a URL"},
	} {
		_, err := Parse("Look up", tt.tmpl, fields)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `script "Look up"`) {
			t.Errorf("%s: %v, want %q", tt.tmpl, err, tt.want)
		}
	}
}
