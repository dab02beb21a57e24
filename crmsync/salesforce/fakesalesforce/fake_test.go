package fakesalesforce

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

type client struct {
	t   *testing.T
	srv *httptest.Server
	tok string
}

func newClient(t *testing.T, s *Server) *client {
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	resp, err := http.PostForm(srv.URL+"/services/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"id"}, "client_secret": {"sec"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	if tok.AccessToken == "" {
		t.Fatal("no token")
	}
	return &client{t: t, srv: srv, tok: tok.AccessToken}
}

func (c *client) do(method, path, body string) (int, string, http.Header) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

const v = "/services/data/v62.0/"

func TestRefusals(t *testing.T) {
	s := New(Options{ClientID: "id", ClientSecret: "sec"})
	contact := s.AddRecord("Contact", Record{"LastName": "X"})
	lead := s.AddRecord("Lead", Record{"LastName": "L", "IsConverted": false})
	account := s.AddRecord("Account", Record{"Name": "A"})
	c := newClient(t, s)
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"unknown field", "POST", v + "sobjects/Task", `{"Subject":"x","Foo__c":"y"}`, 400, "INVALID_FIELD"},
		{"number for a string", "POST", v + "sobjects/Task", `{"Subject":12}`, 400, "JSON_PARSER_ERROR"},
		{"string for an int", "POST", v + "sobjects/Task", `{"CallDurationInSeconds":"12"}`, 400, "JSON_PARSER_ERROR"},
		{"too long", "POST", v + "sobjects/Task", `{"Subject":"` + strings.Repeat("x", 256) + `"}`, 400, "STRING_TOO_LONG"},
		{"read-only", "POST", v + "sobjects/Task", `{"IsClosed":true}`, 400, "INVALID_FIELD_FOR_INSERT_UPDATE"},
		{"bad picklist", "POST", v + "sobjects/Task", `{"CallType":"Incoming"}`, 400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"},
		{"malformed id", "POST", v + "sobjects/Task", `{"WhoId":"003-not"}`, 400, "MALFORMED_ID"},
		{"an account as WhoId", "POST", v + "sobjects/Task", `{"WhoId":"` + account + `"}`, 400, "FIELD_INTEGRITY_EXCEPTION"},
		{"a dangling contact", "POST", v + "sobjects/Task", `{"WhoId":"003000000000000AAA"}`, 400, "INVALID_CROSS_REFERENCE_KEY"},
		{"a lead with a WhatId", "POST", v + "sobjects/Task", `{"WhoId":"` + lead + `","WhatId":"` + account + `"}`, 400, "FIELD_INTEGRITY_EXCEPTION"},
		{"a bad date", "POST", v + "sobjects/Task", `{"ActivityDate":"2026-11-21T10:00:00Z"}`, 400, "JSON_PARSER_ERROR"},
		{"not JSON", "POST", v + "sobjects/Task", `{`, 400, "JSON_PARSER_ERROR"},
		{"unknown version", "POST", "/services/data/v12.0/sobjects/Task", `{}`, 404, "NOT_FOUND"},
		{"not an external id", "PATCH", v + "sobjects/Task/CallObject/x", `{}`, 404, "NOT_FOUND"},
		{"malformed SOQL", "GET", v + "query?q=" + url.QueryEscape("SELECT Id Task"), "", 400, "MALFORMED_QUERY"},
		{"unknown column", "GET", v + "query?q=" + url.QueryEscape("SELECT Nope FROM Task"), "", 400, "INVALID_FIELD"},
		{"unknown object", "GET", v + "query?q=" + url.QueryEscape("SELECT Id FROM Widget__c"), "", 400, "INVALID_TYPE"},
		{"over 200 records", "POST", v + "composite/sobjects", `{"records":[` + strings.Repeat(`{"attributes":{"type":"Task"}},`, 200) + `{"attributes":{"type":"Task"}}]}`, 400, "EXCEEDED_ID_LIMIT"},
	}
	for _, tt := range tests {
		status, body, _ := c.do(tt.method, tt.path, tt.body)
		if status != tt.status || !strings.Contains(body, `"errorCode":"`+tt.code+`"`) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, status, body, tt.status, tt.code)
		}
	}
	// What is accepted: nulls are ignored, SOQL ignores case.
	status, body, hdr := c.do("POST", v+"sobjects/Task", `{"Subject":"ok","CallObject":"ABC","WhoId":"`+contact+`","Description":null}`)
	if status != 201 || !strings.Contains(body, `"success":true`) || !strings.HasPrefix(hdr.Get("Sforce-Limit-Info"), "api-usage=") {
		t.Fatalf("create: %d %s %v", status, body, hdr)
	}
	if task, _ := s.Task("abc"); task["Description"] != nil || task["Status"] != "Not Started" {
		t.Errorf("stored %v", task)
	}
	_, body, _ = c.do("GET", v+"query?q="+url.QueryEscape("SELECT Id FROM Task WHERE CallObject IN ('abc', 'zz')"), "")
	if !strings.Contains(body, `"totalSize":1`) {
		t.Errorf("case-insensitive IN: %s", body)
	}
}

func TestAllOrNoneRollsBack(t *testing.T) {
	s := New(Options{ClientID: "id", ClientSecret: "sec"})
	c := newClient(t, s)
	_, body, _ := c.do("POST", v+"composite/sobjects", `{"allOrNone":true,"records":[{"attributes":{"type":"Task"},"Subject":"a"},{"attributes":{"type":"Task"},"Nope":1}]}`)
	if !strings.Contains(body, "ALL_OR_NONE_OPERATION_ROLLED_BACK") || !strings.Contains(body, "INVALID_FIELD") || len(s.Tasks()) != 0 {
		t.Errorf("allOrNone: %s, %d tasks", body, len(s.Tasks()))
	}
	_, body, _ = c.do("POST", v+"composite/sobjects", `{"allOrNone":false,"records":[{"attributes":{"type":"Task"},"Subject":"a"},{"attributes":{"type":"Task"},"Nope":1}]}`)
	if !strings.Contains(body, `"success":true`) || len(s.Tasks()) != 1 {
		t.Errorf("allOrNone false: %s", body)
	}
}

func TestLimitAndExpiry(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := New(Options{ClientID: "id", ClientSecret: "sec", RequestLimit: 1, RequestWindow: time.Hour, SessionTimeout: time.Minute, Now: func() time.Time { return now }})
	c := newClient(t, s)
	if status, _, _ := c.do("GET", v+"query?q="+url.QueryEscape("SELECT Id FROM User"), ""); status != 200 {
		t.Fatal(status)
	}
	if status, body, _ := c.do("GET", v+"query?q="+url.QueryEscape("SELECT Id FROM User"), ""); status != 403 || !strings.Contains(body, "REQUEST_LIMIT_EXCEEDED") {
		t.Errorf("over the limit: %d %s", status, body)
	}
	now = now.Add(2 * time.Minute)
	if status, body, _ := c.do("GET", v+"query?q="+url.QueryEscape("SELECT Id FROM User"), ""); status != 401 || !strings.Contains(body, "INVALID_SESSION_ID") {
		t.Errorf("expired session: %d %s", status, body)
	}
}
