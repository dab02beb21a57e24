package fakecreatio

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/callbridge/callbridge/crmsync/crmtest"
)

func setup(t *testing.T) (*Server, *httptest.Server, string) {
	s := New(Options{ClientID: "c", ClientSecret: "s", Username: "u", Password: "p"})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	resp, err := http.PostForm(srv.URL+"/connect/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"s"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return s, srv, strings.Split(strings.Split(string(b), `"access_token":"`)[1], `"`)[0]
}

func call(t *testing.T, srv *httptest.Server, tok, method, path, body string) (int, string) {
	return crmtest.Request(t, method, srv.URL+path, "Authorization", "Bearer "+tok, body)
}

func TestRefusals(t *testing.T) {
	s, srv, tok := setup(t)
	id := "11111111-2222-4333-8444-555555555555"
	for _, tt := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"an unknown property", `{"Caption":"x","Nope":1}`, 400, "does not exist on type"},
		{"a number for text", `{"Caption":5}`, 400, "Edm.String"},
		{"text for a number", `{"Duration":"5"}`, 400, "Edm.Int32"},
		{"a bad date", `{"StartDate":"yesterday"}`, 400, "Edm.DateTimeOffset"},
		{"a missing contact", `{"ContactId":"` + id + `"}`, 400, "does not exist"},
		{"an unknown direction", `{"DirectionId":"` + id + `"}`, 400, "does not exist"},
		{"read-only", `{"CreatedOn":"2026-01-01T00:00:00Z"}`, 400, "cannot be set"},
		{"a client-chosen Id", `{"Id":"` + id + `","Caption":"x"}`, 201, id},
		{"the same Id again", `{"Id":"` + id + `","Caption":"x"}`, 500, "duplicate key"},
	} {
		status, body := call(t, srv, tok, "POST", "/0/odata/Call", tt.body)
		if status != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, status, body, tt.status, tt.want)
		}
	}
	if s.Count("Call") != 1 {
		t.Errorf("%d calls", s.Count("Call"))
	}
	for _, q := range []string{"?$select=Nope", "?$filter=Nope eq 1", "?$filter=Caption like 'x'", "?$top=20001", "?$format=json"} {
		if status, _ := call(t, srv, tok, "GET", "/0/odata/Call"+strings.ReplaceAll(q, " ", "%20"), ""); status != 400 {
			t.Errorf("%s: %d, want 400", q, status)
		}
	}
	if status, _ := call(t, srv, tok, "GET", "/0/odata/Call(22222222-2222-4333-8444-555555555555)", ""); status != 404 {
		t.Errorf("a missing row: %d", status)
	}
	if status, _ := call(t, srv, "nope", "GET", "/0/odata/Call", ""); status != 401 {
		t.Errorf("a bad token: %d", status)
	}
}

// A forms session needs its cookies and the BPMCSRF header.
func TestFormsSession(t *testing.T) {
	_, srv, _ := setup(t)
	resp, err := http.Post(srv.URL+"/ServiceModel/AuthService.svc/Login", "application/json", strings.NewReader(`{"UserName":"u","UserPassword":"p"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	get := func(withCSRF bool) int {
		req, _ := http.NewRequest("GET", srv.URL+"/0/odata/Call", nil)
		csrf := ""
		for _, c := range resp.Cookies() {
			req.AddCookie(c)
			if c.Name == "BPMCSRF" {
				csrf = c.Value
			}
		}
		if withCSRF {
			req.Header.Set("BPMCSRF", csrf)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if get(false) != 401 || get(true) != 200 {
		t.Error("BPMCSRF not enforced")
	}
	r, _ := http.Post(srv.URL+"/ServiceModel/AuthService.svc/Login", "application/json", strings.NewReader(`{"UserName":"u","UserPassword":"x"}`))
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !strings.Contains(string(b), `"Code":1`) {
		t.Errorf("refused login: %d %s", r.StatusCode, b)
	}
}

// FuzzParseFilter feeds the fake's $filter reader what callbridge sends
// and whatever the fuzzer makes of it.
func FuzzParseFilter(f *testing.F) {
	s := New(Options{})
	t := s.tables["Contact"]
	f.Add("ModifiedOn ge 2026-11-21T16:11:10Z")
	f.Add("Name eq 'O''Brien' and AccountId eq 11111111-2222-4333-8444-555555555555")
	f.Fuzz(func(_ *testing.T, q string) {
		if conds, err := parseFilter(q, t); err == nil {
			for _, c := range conds {
				c.match(Row{"Name": "x", "ModifiedOn": "2026-01-01T00:00:00Z"})
			}
		}
	})
}
