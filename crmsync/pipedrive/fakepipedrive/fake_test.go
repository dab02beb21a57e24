package fakepipedrive

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync/crmtest"
)

func do(t *testing.T, srv *httptest.Server, tok, method, path, body string) (int, string) {
	return crmtest.Request(t, method, srv.URL+path, "x-api-token", tok, body)
}

func TestRefusals(t *testing.T) {
	s := New(Options{APITokens: map[string]int{"admin": 1, "user": 2}})
	s.AddUser(User{ID: 1, Active: true, Admin: true})
	s.AddUser(User{ID: 2, Active: true})
	s.AddUser(User{ID: 3, Active: false})
	srv := httptest.NewServer(s)
	defer srv.Close()
	base := `"outcome":"connected","to_phone_number":"+1","start_time":"2026-11-21 16:11:10","end_time":"2026-11-21 16:11:14"`
	tests := []struct {
		name, tok, body string
		status          int
		want            string
	}{
		{"no outcome", "admin", `{"to_phone_number":"+1","start_time":"2026-11-21 16:11:10","end_time":"2026-11-21 16:11:14"}`, 400, "outcome"},
		{"an unknown outcome", "admin", `{` + strings.Replace(base, "connected", "answered", 1) + `}`, 400, "outcome"},
		{"an ISO time", "admin", `{"outcome":"connected","to_phone_number":"+1","start_time":"2026-11-21T16:11:10Z","end_time":"2026-11-21 16:11:14"}`, 400, "YYYY-MM-DD HH:MM:SS"},
		{"the end before the start", "admin", `{"outcome":"connected","to_phone_number":"+1","start_time":"2026-11-21 16:11:10","end_time":"2026-11-21 16:11:00"}`, 400, "end_time"},
		{"a number for duration", "admin", `{` + base + `,"duration":2}`, 400, "duration"},
		{"no number called", "admin", `{"outcome":"connected","start_time":"2026-11-21 16:11:10","end_time":"2026-11-21 16:11:14"}`, 400, "to_phone_number"},
		{"an unknown person", "admin", `{` + base + `,"person_id":77}`, 404, "person_id"},
		{"an inactive user", "admin", `{` + base + `,"user_id":3}`, 400, "inactive"},
		{"for another user without the right", "user", `{` + base + `,"user_id":1}`, 403, "permission"},
		{"a deal and a lead", "admin", `{` + base + `,"deal_id":5,"lead_id":"abc"}`, 400, "not both"},
		{"a wrong token", "nope", `{` + base + `}`, 401, "unauthorized"},
		{"unknown fields are ignored", "admin", `{` + base + `,"callbridge_id":"x"}`, 200, `"success":true`},
	}
	for _, tt := range tests {
		status, body := do(t, srv, tt.tok, "POST", "/api/v1/callLogs", tt.body)
		if status != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, status, body, tt.status, tt.want)
		}
	}
	if _, ok := s.Activities()[0].CallLog["callbridge_id"]; ok {
		t.Error("an unknown field was kept")
	}
	if status, _ := do(t, srv, "user", "GET", "/api/v1/activities?user_id=1", ""); status != 403 {
		t.Errorf("another user's activities: %d", status)
	}
	if status, _ := do(t, srv, "admin", "GET", "/api/v2/persons?limit=501", ""); status != 400 {
		t.Errorf("a page over 500: %d", status)
	}
}

func TestLimits(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := New(Options{APITokens: map[string]int{"t": 1}, Burst: 1, Budget: 3, Costs: map[string]int{"users": 2}, Now: func() time.Time { return now }})
	s.AddUser(User{ID: 1, Active: true})
	srv := httptest.NewServer(s)
	defer srv.Close()
	do(t, srv, "t", "GET", "/api/v1/users", "")
	if status, body := do(t, srv, "t", "GET", "/api/v1/users", ""); status != 429 || !strings.Contains(body, "Request over limit") {
		t.Errorf("burst: %d %s", status, body)
	}
	now = now.Add(2 * time.Second)
	if status, body := do(t, srv, "t", "GET", "/api/v1/users", ""); status != 429 || !strings.Contains(body, "budget") {
		t.Errorf("budget: %d %s", status, body)
	}
	now = now.Add(24 * time.Hour)
	if status, _ := do(t, srv, "t", "GET", "/api/v1/users", ""); status != 200 {
		t.Errorf("the next day: %d", status)
	}
}
