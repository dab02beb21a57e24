package fakehubspot

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync/crmtest"
)

func do(t *testing.T, srv *httptest.Server, tok, method, path, body string) (int, string) {
	return crmtest.Request(t, method, srv.URL+path, "Authorization", "Bearer "+tok, body)
}

func TestRefusals(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := New(Options{Tokens: []string{"pat"}, Now: func() time.Time { return now }})
	contact := s.AddRecord("contacts", map[string]string{"firstname": "A"})
	srv := httptest.NewServer(s)
	defer srv.Close()
	ts := `"hs_timestamp":"2026-11-21T16:11:10.000Z"`
	tests := []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"no such property", "/crm/v3/objects/calls", `{"properties":{` + ts + `,"nope":"x"}}`, 400, "PROPERTY_DOESNT_EXIST"},
		{"read-only", "/crm/v3/objects/calls", `{"properties":{` + ts + `,"hs_object_id":"1"}}`, 400, "READ_ONLY_VALUE"},
		{"not an option", "/crm/v3/objects/calls", `{"properties":{` + ts + `,"hs_call_status":"DONE"}}`, 400, "INVALID_OPTION"},
		{"not an integer", "/crm/v3/objects/calls", `{"properties":{` + ts + `,"hs_call_duration":"2.5"}}`, 400, "INVALID_INTEGER"},
		{"an object for a value", "/crm/v3/objects/calls", `{"properties":{` + ts + `,"hs_call_title":{"a":1}}}`, 400, "INVALID_TYPE"},
		{"a bad date", "/crm/v3/objects/calls", `{"properties":{"hs_timestamp":"yesterday"}}`, 400, "INVALID_DATE"},
		{"no timestamp", "/crm/v3/objects/calls", `{"properties":{"hs_call_title":"x"}}`, 400, "REQUIRED_PROPERTY"},
		{"an unknown owner", "/crm/v3/objects/calls", `{"properties":{` + ts + `,"hubspot_owner_id":"1"}}`, 400, "INVALID_OWNER_ID"},
		{"a missing contact", "/crm/v3/objects/calls", `{"properties":{` + ts + `},"associations":[{"to":{"id":"1"},"types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":194}]}]}`, 400, "OBJECT_NOT_FOUND"},
		{"an unknown association type", "/crm/v3/objects/calls", `{"properties":{` + ts + `},"associations":[{"to":{"id":"` + contact + `"},"types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":1}]}]}`, 400, "INVALID_ASSOCIATION_TYPE"},
		{"a batch over 100", "/crm/v3/objects/calls/batch/create", `{"inputs":[` + strings.Repeat(`{"properties":{`+ts+`}},`, 100) + `{"properties":{` + ts + `}}]}`, 400, "VALIDATION_ERROR"},
		{"a page over 100", "/crm/v3/objects/contacts?limit=101", "", 400, "VALIDATION_ERROR"},
		{"a search over 200", "/crm/v3/objects/calls/search", `{"limit":201}`, 400, "VALIDATION_ERROR"},
		{"a search filter on nothing", "/crm/v3/objects/calls/search", `{"filterGroups":[{"filters":[{"propertyName":"nope","operator":"EQ","value":"x"}]}]}`, 400, "PROPERTY_DOESNT_EXIST"},
		{"unknown top-level keys are ignored", "/crm/v3/objects/calls", `{"properties":{` + ts + `},"objectWriteTraceId":"x","extra":true}`, 201, `"hs_timestamp"`},
	}
	for _, tt := range tests {
		method := http.MethodPost
		if tt.body == "" {
			method = http.MethodGet
		}
		status, body := do(t, srv, "pat", method, tt.path, tt.body)
		if status != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, status, body, tt.status, tt.want)
		}
	}
	if status, body := do(t, srv, "other", http.MethodGet, "/crm/v3/owners", ""); status != 401 || !strings.Contains(body, "INVALID_AUTHENTICATION") {
		t.Errorf("a wrong token: %d %s", status, body)
	}
	// Unknown properties asked for in a list are left out, silently.
	if status, body := do(t, srv, "pat", http.MethodGet, "/crm/v3/objects/contacts?properties=firstname,nope", ""); status != 200 || strings.Contains(body, "nope") {
		t.Errorf("list: %d %s", status, body)
	}
}

func TestSearchLagsWrites(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := New(Options{Tokens: []string{"pat"}, IndexLag: 3 * time.Second, Now: func() time.Time { return now }})
	srv := httptest.NewServer(s)
	defer srv.Close()
	do(t, srv, "pat", "POST", "/crm/v3/objects/calls", `{"properties":{"hs_timestamp":"1","callbridge_activity_id":"a1"}}`)
	q := `{"filterGroups":[{"filters":[{"propertyName":"callbridge_activity_id","operator":"IN","values":["a1"]}]}],"properties":["callbridge_activity_id"]}`
	if _, body := do(t, srv, "pat", "POST", "/crm/v3/objects/calls/search", q); !strings.Contains(body, `"total":0`) {
		t.Errorf("found before the index caught up: %s", body)
	}
	now = now.Add(3 * time.Second)
	if _, body := do(t, srv, "pat", "POST", "/crm/v3/objects/calls/search", q); !strings.Contains(body, `"total":1`) {
		t.Errorf("not found after the lag: %s", body)
	}
}

func TestLimits(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := New(Options{Tokens: []string{"pat"}, TenSecondly: 2, SearchPerSecond: 1, Now: func() time.Time { return now }})
	srv := httptest.NewServer(s)
	defer srv.Close()
	q := `{"properties":["hs_timestamp"]}`
	do(t, srv, "pat", "POST", "/crm/v3/objects/calls/search", q)
	if status, body := do(t, srv, "pat", "POST", "/crm/v3/objects/calls/search", q); status != 429 || !strings.Contains(body, `"policyName":"SECONDLY"`) {
		t.Errorf("search limit: %d %s", status, body)
	}
	if status, body := do(t, srv, "pat", "GET", "/crm/v3/owners", ""); status != 429 || !strings.Contains(body, `"policyName":"TEN_SECONDLY_ROLLING"`) {
		t.Errorf("burst limit: %d %s", status, body)
	}
	now = now.Add(10 * time.Second)
	if status, _ := do(t, srv, "pat", "GET", "/crm/v3/owners", ""); status != 200 {
		t.Errorf("after the window: %d", status)
	}
}
