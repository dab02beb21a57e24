package fakedataverse

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	user    = "a1a1a1a1-0000-4000-8000-000000000101"
	contact = "11111111-2222-4333-8444-555555555555"
	pcID    = "22222222-3333-4444-8555-666666666666"
)

func setup(t *testing.T, opts Options) (*Server, *httptest.Server, string) {
	t.Helper()
	opts.ClientID, opts.ClientSecret, opts.Scope = "client", "secret", "https://org/.default"
	s := New(opts)
	s.AddUser(SystemUser{ID: user, Email: "a@example.com"})
	s.AddRecord("contacts", Record{"contactid": contact, "fullname": "C", "telephone1": "+358401234567"})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	resp, err := http.PostForm(srv.URL+"/tenant/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"client"}, "client_secret": {"secret"}, "scope": {"https://org/.default"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v", err)
	}
	return s, srv, tok.AccessToken
}

type call struct {
	method, path, body string
	hdr                map[string]string
}

func send(t *testing.T, srv *httptest.Server, tok string, c call) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(c.method, srv.URL+APIPath+c.path, strings.NewReader(c.body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("OData-Version", "4.0")
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	for k, v := range c.hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error.Code, resp.Header
}

func TestRejects(t *testing.T) {
	_, srv, tok := setup(t, Options{})
	good := `{"activityid":"` + pcID + `","subject":"s","ownerid@odata.bind":"/systemusers(` + user + `)"}`
	if st, code, _ := send(t, srv, tok, call{"POST", "phonecalls", good, nil}); st != 204 {
		t.Fatalf("good create: %d %s", st, code)
	}
	tests := []struct {
		name   string
		c      call
		tok    string
		status int
		code   string
	}{
		{"no bearer", call{"GET", "systemusers", "", map[string]string{"Authorization": ""}}, "", 401, ""},
		{"unknown bearer", call{"GET", "systemusers", "", nil}, "forged", 401, ""},
		{"no OData-Version", call{"GET", "systemusers", "", map[string]string{"OData-Version": ""}}, tok, 400, "0x80048d19"},
		{"OData-Version 3.0", call{"GET", "systemusers", "", map[string]string{"OData-Version": "3.0"}}, tok, 400, "0x80048d19"},
		{"unknown attribute", call{"POST", "phonecalls", `{"subjekt":"x"}`, nil}, tok, 400, "0x80060888"},
		{"statecode on create", call{"POST", "phonecalls", `{"subject":"x","statecode":1}`, nil}, tok, 400, "0x80040203"},
		{"statuscode on create", call{"POST", "phonecalls", `{"subject":"x","statuscode":2}`, nil}, tok, 400, "0x80040203"},
		{"bind without slash set", call{"POST", "phonecalls", `{"ownerid@odata.bind":"systemusers-` + user + `"}`, nil}, tok, 400, "0x80048d19"},
		{"bind to wrong set", call{"POST", "phonecalls", `{"ownerid@odata.bind":"/contacts(` + contact + `)"}`, nil}, tok, 400, "0x80048d19"},
		{"bind to nothing", call{"POST", "phonecalls", `{"ownerid@odata.bind":"/systemusers(99999999-0000-4000-8000-000000000000)"}`, nil}, tok, 404, "0x80040217"},
		{"unknown navigation", call{"POST", "phonecalls", `{"regardingobjectid_incident_phonecall@odata.bind":"/incidents(` + contact + `)"}`, nil}, tok, 400, "0x80060888"},
		{"party without type", call{"POST", "phonecalls", `{"phonecall_activity_parties":[{"addressused":"1"}]}`, nil}, tok, 400, "0x80040203"},
		{"party with two ids", call{"POST", "phonecalls", `{"phonecall_activity_parties":[{"participationtypemask":1,"partyid_contact@odata.bind":"/contacts(` + contact + `)","partyid_systemuser@odata.bind":"/systemusers(` + user + `)"}]}`, nil}, tok, 400, "0x80040203"},
		{"party unknown field", call{"POST", "phonecalls", `{"phonecall_activity_parties":[{"participationtypemask":1,"addressused":"1","name":"x"}]}`, nil}, tok, 400, "0x80060888"},
		{"duration type", call{"POST", "phonecalls", `{"actualdurationminutes":"2"}`, nil}, tok, 400, "0x80048d19"},
		{"duplicate id", call{"POST", "phonecalls", good, nil}, tok, 412, "0x80040237"},
		{"bad status for state", call{"PATCH", "phonecalls(" + pcID + ")", `{"statecode":1,"statuscode":1}`, map[string]string{"If-Match": "*"}}, tok, 400, "0x80040203"},
		{"patch missing with If-Match", call{"PATCH", "phonecalls(99999999-0000-4000-8000-000000000000)", `{"statecode":1,"statuscode":2}`, map[string]string{"If-Match": "*"}}, tok, 404, "0x80040217"},
		{"upsert with state", call{"PATCH", "phonecalls(99999999-0000-4000-8000-000000000000)", `{"statecode":1,"statuscode":2}`, nil}, tok, 400, "0x80040203"},
		{"unknown select", call{"GET", "systemusers?$select=nosuch", "", nil}, tok, 400, "0x80060888"},
		{"unknown filter field", call{"GET", "phonecalls?$filter=" + url.QueryEscape("nosuch eq 'x'"), "", nil}, tok, 400, "0x80060888"},
		{"unknown query option", call{"GET", "phonecalls?$expand=x", "", nil}, tok, 400, "0x80060888"},
		{"form body", call{"POST", "phonecalls", `subject=x`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, tok, 415, "0x80048d19"},
		{"unknown table", call{"GET", "incidents", "", nil}, tok, 404, "0x8006088a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, code, hdr := send(t, srv, tt.tok, tt.c)
			if st != tt.status || code != tt.code {
				t.Errorf("got %d %q, want %d %q", st, code, tt.status, tt.code)
			}
			if st == 401 && hdr.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// Completing works once; a closed call cannot be closed again.
	if st, code, _ := send(t, srv, tok, call{"PATCH", "phonecalls(" + pcID + ")", `{"statecode":1,"statuscode":4}`, map[string]string{"If-Match": "*"}}); st != 204 {
		t.Fatalf("complete: %d %s", st, code)
	}
	if st, _, _ := send(t, srv, tok, call{"PATCH", "phonecalls(" + pcID + ")", `{"statecode":1,"statuscode":2}`, map[string]string{"If-Match": "*"}}); st != 400 {
		t.Errorf("closing a closed call: %d", st)
	}
	if st, _, _ := send(t, srv, tok, call{"PATCH", "phonecalls(" + pcID + ")", `{"subject":"edited"}`, map[string]string{"If-Match": "*"}}); st != 400 {
		t.Errorf("editing a closed call: %d", st)
	}
}

func TestThrottle(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, srv, tok := setup(t, Options{RateLimit: 3, RateWindow: 10 * time.Second, Now: clock})
	for i := range 3 {
		if st, _, _ := send(t, srv, tok, call{"GET", "systemusers", "", nil}); st != 200 {
			t.Fatalf("request %d: %d", i, st)
		}
	}
	st, code, hdr := send(t, srv, tok, call{"GET", "systemusers", "", nil})
	if st != 429 || code != "0x80072322" || hdr.Get("Retry-After") != "10" {
		t.Fatalf("4th request: %d %s Retry-After %q", st, code, hdr.Get("Retry-After"))
	}
	now = now.Add(10 * time.Second)
	if st, _, _ := send(t, srv, tok, call{"GET", "systemusers", "", nil}); st != 200 {
		t.Fatalf("after the window: %d", st)
	}
	if _, throttled, _ := s.Stats(); throttled != 1 {
		t.Errorf("throttled %d", throttled)
	}
}

func TestPaging(t *testing.T) {
	s, srv, tok := setup(t, Options{MaxPageSize: 2})
	for i := range 5 {
		s.AddRecord("accounts", Record{"accountid": "00000000-0000-4000-8000-00000000000" + string(rune('0'+i)), "name": "A"})
	}
	next := srv.URL + APIPath + "accounts?$select=accountid,name"
	seen := 0
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		req, _ := http.NewRequest("GET", next, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("OData-Version", "4.0")
		req.Header.Set("Prefer", "odata.maxpagesize=5000")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Value []map[string]any `json:"value"`
			Next  string           `json:"@odata.nextLink"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if len(page.Value) > 2 {
			t.Fatalf("page of %d beyond the cap", len(page.Value))
		}
		seen += len(page.Value)
		next = page.Next
	}
	if seen != 5 {
		t.Errorf("saw %d records", seen)
	}
}

func TestTokenEndpoint(t *testing.T) {
	_, srv, _ := setup(t, Options{})
	for _, tt := range []struct {
		form   url.Values
		status int
	}{
		{url.Values{"grant_type": {"client_credentials"}, "client_id": {"client"}, "client_secret": {"nope"}, "scope": {"https://org/.default"}}, 401},
		{url.Values{"grant_type": {"client_credentials"}, "client_id": {"other"}, "client_secret": {"secret"}, "scope": {"https://org/.default"}}, 400},
		{url.Values{"grant_type": {"password"}}, 400},
		{url.Values{"grant_type": {"client_credentials"}, "client_id": {"client"}, "client_secret": {"secret"}, "scope": {"https://other/.default"}}, 400},
	} {
		resp, err := http.PostForm(srv.URL+"/t/oauth2/v2.0/token", tt.form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%v: %d, want %d", tt.form, resp.StatusCode, tt.status)
		}
	}
}
