package fakezoho

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync/crmtest"
)

func setup(t *testing.T, opts Options) (*Server, *httptest.Server, string) {
	opts.ClientID, opts.ClientSecret, opts.RefreshToken = "id", "sec", "rt"
	s := New(opts)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	resp, err := http.PostForm(srv.URL+"/oauth/v2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"id"}, "client_secret": {"sec"}, "refresh_token": {"rt"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tok := strings.Split(strings.Split(string(b), `"access_token":"`)[1], `"`)[0]
	return s, srv, tok
}

func call(t *testing.T, srv *httptest.Server, tok, method, path, body string) (int, string) {
	return crmtest.Request(t, method, srv.URL+path, "Authorization", "Zoho-oauthtoken "+tok, body)
}

func TestRefusals(t *testing.T) {
	s, srv, tok := setup(t, Options{})
	acct := s.AddRecord("Accounts", map[string]string{"Account_Name": "A"})
	base := `"Subject":"s","Call_Type":"Inbound","Call_Start_Time":"2026-11-21T16:11:10+00:00"`
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"no subject", `{"data":[{"Call_Type":"Inbound","Call_Start_Time":"2026-11-21T16:11:10+00:00"}]}`, 400, `"MANDATORY_NOT_FOUND"`},
		{"a Z time", `{"data":[{"Subject":"s","Call_Type":"Inbound","Call_Start_Time":"2026-11-21T16:11:10Z"}]}`, 400, `"expected_data_type":"datetime"`},
		{"a bad type", `{"data":[{"Subject":"s","Call_Type":"Incoming","Call_Start_Time":"2026-11-21T16:11:10+00:00"}]}`, 400, `"api_name":"Call_Type"`},
		{"seconds as a number", `{"data":[{` + base + `,"Call_Duration":2}]}`, 400, `"api_name":"Call_Duration"`},
		{"a number for text", `{"data":[{` + base + `,"Description":5}]}`, 400, `"expected_data_type":"text"`},
		{"a missing contact", `{"data":[{` + base + `,"Who_Id":{"id":"1234567"}}]}`, 400, `"api_name":"Who_Id"`},
		{"What_Id without $se_module", `{"data":[{` + base + `,"What_Id":{"id":"` + acct + `"}}]}`, 400, `"api_name":"$se_module"`},
		{"an unknown owner", `{"data":[{` + base + `,"Owner":{"id":"1234567"}}]}`, 400, `"invalid owner"`},
		{"one of two refused", `{"data":[{` + base + `},{"Subject":"x"}]}`, 207, `"SUCCESS"`},
		{"over 100", `{"data":[` + strings.Repeat(`{`+base+`},`, 100) + `{` + base + `}]}`, 400, `"LIMIT_EXCEEDED"`},
		{"unknown fields dropped", `{"data":[{` + base + `,"No_Such_Field":"x"}]}`, 201, `"SUCCESS"`},
	}
	for _, tt := range tests {
		status, body := call(t, srv, tok, "POST", "/crm/v8/Calls", tt.body)
		if status != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, status, body, tt.status, tt.want)
		}
	}
	for _, c := range s.Calls() {
		if _, ok := c["No_Such_Field"]; ok {
			t.Error("an unknown field was kept")
		}
	}
	for _, tt := range []struct{ q, want string }{
		{"select id from Calls where Subject in (" + strings.Repeat("'a',", 50) + "'b')", "LIMIT_EXCEEDED"},
		{"select id from Calls where Nope = 'a'", "INVALID_QUERY"},
		{"select id from Calls", "SYNTAX_ERROR"},
	} {
		if status, body := call(t, srv, tok, "POST", "/crm/v8/coql", `{"select_query":"`+tt.q+`"}`); status != 400 || !strings.Contains(body, tt.want) {
			t.Errorf("%q: %d %s", tt.q, status, body)
		}
	}
	if status, _ := call(t, srv, tok, "POST", "/crm/v8/coql", `{"select_query":"select id from Calls where Subject = 'none'"}`); status != 204 {
		t.Errorf("no match: %d, want 204", status)
	}
	if status, body := call(t, srv, "nope", "GET", "/crm/v8/users", ""); status != 401 || !strings.Contains(body, "INVALID_TOKEN") {
		t.Errorf("a bad token: %d %s", status, body)
	}
	if status, _ := call(t, srv, tok, "GET", "/crm/v8/Contacts?per_page=200", ""); status != 400 {
		t.Errorf("no fields: %d", status)
	}
}

func TestTokenRefusedWith200(t *testing.T) {
	_, srv, _ := setup(t, Options{})
	resp, _ := http.PostForm(srv.URL+"/oauth/v2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"id"}, "client_secret": {"sec"}, "refresh_token": {"old"}})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"error":"invalid_code"`) {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
}

func TestCreditsAndExpiry(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s, srv, tok := setup(t, Options{Credits: 1, TokenTTL: time.Minute, Now: func() time.Time { return now }})
	_ = s
	call(t, srv, tok, "GET", "/crm/v8/users?type=AllUsers", "")
	if status, body := call(t, srv, tok, "GET", "/crm/v8/users?type=AllUsers", ""); status != 429 || !strings.Contains(body, "TOO_MANY_REQUESTS") {
		t.Errorf("credits: %d %s", status, body)
	}
	now = now.Add(2 * time.Minute)
	if status, body := call(t, srv, tok, "GET", "/crm/v8/users", ""); status != 401 || !strings.Contains(body, "INVALID_TOKEN") {
		t.Errorf("expired: %d %s", status, body)
	}
}

// quote escapes as the connector does.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// FuzzParseCOQL feeds the fake's COQL parser what callbridge sends and
// whatever the fuzzer makes of it, and checks a quoted marker reads back
// as itself.
func FuzzParseCOQL(f *testing.F) {
	f.Add("select id, Callbridge_Activity_Id from Calls where Callbridge_Activity_Id in ('a1', 'b2') limit 200", "5e0b4c0a9f3b2d1e")
	f.Add("select id from Calls where Subject = 'x'", "it's")
	f.Fuzz(func(t *testing.T, q, marker string) {
		parseCOQL(q)
		p, err := parseCOQL("select id from Calls where M in (" + quote(marker) + ")")
		if err != nil || len(p.values) != 1 || p.values[0] != marker {
			t.Fatalf("%q: %v %+v", marker, err, p)
		}
	})
}
