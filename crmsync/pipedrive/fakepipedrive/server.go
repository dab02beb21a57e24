package fakepipedrive

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callbridge/callbridge/crmsync/internal/fakehttp"
)

// Options configure the fake.
type Options struct {
	// APITokens maps API tokens to their users' ids.
	APITokens map[string]int
	// OAuth: the app's client and the refresh token the endpoint accepts
	// first, and the user OAuth tokens act as. Each refresh hands out a
	// new refresh token and retires the old.
	ClientID, ClientSecret, RefreshToken string
	OAuthUser                            int
	AccessTTL                            time.Duration
	// Burst requests per token per 2-second window (API token: 20 on
	// Essential up to 120 on Enterprise), then 429. 0: none.
	Burst int
	// BurstWindow is the burst window: 2 s, as Pipedrive's.
	BurstWindow time.Duration
	// Budget is the company's daily token budget (UTC days); each
	// request costs Costs[route] tokens, then 429 until the next day. 0:
	// none.
	Budget int
	Costs  map[string]int
	// CompanyDomain is the company's subdomain. Default acme.
	CompanyDomain string
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// DefaultCosts are the fake's token costs per route, of the order the API
// reference lists (writes cost more than reads of one item, lists more).
var DefaultCosts = map[string]int{"add_call_log": 10, "list_activities": 20, "users": 5, "me": 2, "list_v2": 10}

// User is a Pipedrive user.
type User struct {
	ID     int
	Name   string
	Email  string
	Active bool
	// Admin: account settings access, needed to log calls for others and
	// list their activities.
	Admin bool
}

// Activity is a stored activity.
type Activity struct {
	ID                int
	Type, Subject     string
	DueDate, DueTime  string
	Duration          string
	UserID            int
	PersonID, OrgID   int
	Done              bool
	Note              string
	CallLogID         string
	CallLog           map[string]any
	created, modified time.Time
}

type record struct {
	id     int
	fields map[string]any
	update time.Time
	gone   bool
}

// Server is the fake. Use it as an http.Handler.
type Server struct {
	opts  Options
	loser *fakehttp.Loser

	mu         sync.Mutex
	oauth      map[string]time.Time
	refresh    string
	bursts     map[string]*fakehttp.Window
	day        string
	spent      int
	users      []User
	activities []*Activity
	persons    []*record
	orgs       []*record
	nextID     int
	requests   int
	limited    int
	tokenN     int
}

// New returns an empty company.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AccessTTL == 0 {
		opts.AccessTTL = time.Hour
	}
	if opts.BurstWindow == 0 {
		opts.BurstWindow = 2 * time.Second
	}
	if opts.Costs == nil {
		opts.Costs = DefaultCosts
	}
	if opts.CompanyDomain == "" {
		opts.CompanyDomain = "acme"
	}
	s := &Server{opts: opts, oauth: map[string]time.Time{}, refresh: opts.RefreshToken, bursts: map[string]*fakehttp.Window{}, nextID: 1000}
	s.loser = &fakehttp.Loser{Handler: http.HandlerFunc(s.serve)}
	return s
}

func (s *Server) id() int { s.nextID++; return s.nextID }

// AddUser adds a user and returns its id.
func (s *Server) AddUser(u User) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == 0 {
		u.ID = s.id()
	}
	s.users = append(s.users, u)
	return u.ID
}

// AddPerson adds a person (fields as API v2 gives them: name, phones,
// org_id, …) and returns its id.
func (s *Server) AddPerson(fields map[string]any) int { return s.addRecord(&s.persons, fields) }

// AddOrganization adds an organisation and returns its id.
func (s *Server) AddOrganization(fields map[string]any) int { return s.addRecord(&s.orgs, fields) }

func (s *Server) addRecord(list *[]*record, fields map[string]any) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &record{id: s.id(), fields: fields, update: s.opts.Now().UTC()}
	*list = append(*list, r)
	return r.id
}

// DeletePerson deletes a person.
func (s *Server) DeletePerson(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.persons {
		if p.id == id {
			p.gone, p.update = true, s.opts.Now().UTC()
		}
	}
}

// Activities returns the stored activities.
func (s *Server) Activities() []Activity {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Activity, len(s.activities))
	for i, a := range s.activities {
		out[i] = *a
	}
	return out
}

// CallLogs is how many call logs were added.
func (s *Server) CallLogs() int {
	n := 0
	for _, a := range s.Activities() {
		if a.CallLogID != "" {
			n++
		}
	}
	return n
}

// Stats reports requests, of which refused by the limits, and token
// requests.
func (s *Server) Stats() (requests, limited, tokens int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.limited, s.tokenN
}

// ExpireTokens ends every OAuth access token's life.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.oauth {
		s.oauth[t] = time.Time{}
	}
}

// LoseNext makes the fake carry out the next n requests with method whose
// path contains path, then drop the connection before answering.
func (s *Server) LoseNext(method, path string, n int) { s.loser.LoseNext(method, path, n) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.loser.ServeHTTP(w, r) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// pdErr writes Pipedrive's error shape.
func pdErr(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"success": false, "error": msg, "errorCode": status,
		"error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.", "data": nil, "additional_data": nil})
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// who authenticates a request: the x-api-token header or api_token query
// parameter ("Authentication": both are accepted), or an OAuth bearer
// token.
func (s *Server) who(r *http.Request) (tok string, user int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range []string{r.Header.Get("x-api-token"), r.URL.Query().Get("api_token")} {
		if u, known := s.opts.APITokens[t]; t != "" && known {
			return t, u, true
		}
	}
	if t, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found {
		if exp, known := s.oauth[t]; known && s.opts.Now().Before(exp) {
			return t, s.opts.OAuthUser, true
		}
	}
	return "", 0, false
}

func (s *Server) user(id int) (User, bool) {
	for _, u := range s.users {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}

// limit applies the burst window per token and the daily budget ("Rate
// limiting": x-ratelimit-limit, -remaining and -reset on every answer; 429
// over the limit; the budget resets at the start of the next day).
func (s *Server) limit(w http.ResponseWriter, tok, route string) bool {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Burst > 0 {
		win := s.bursts[tok]
		if win == nil {
			win = &fakehttp.Window{Limit: s.opts.Burst, Span: s.opts.BurstWindow}
			s.bursts[tok] = win
		}
		ok, wait, used := win.Admit(now)
		reset := int((s.opts.BurstWindow + time.Second - 1) / time.Second)
		if !ok {
			reset = max(1, int((wait+time.Second-1)/time.Second))
		}
		w.Header().Set("x-ratelimit-limit", strconv.Itoa(s.opts.Burst))
		w.Header().Set("x-ratelimit-remaining", strconv.Itoa(max(0, s.opts.Burst-used)))
		w.Header().Set("x-ratelimit-reset", strconv.Itoa(reset))
		if !ok {
			s.limited++
			pdErr(w, http.StatusTooManyRequests, "Request over limit")
			return false
		}
	}
	if s.opts.Budget > 0 {
		if day := now.UTC().Format(time.DateOnly); day != s.day {
			s.day, s.spent = day, 0
		}
		cost := s.opts.Costs[route]
		if s.spent+cost > s.opts.Budget {
			s.limited++
			pdErr(w, http.StatusTooManyRequests, "Daily token budget exhausted; it resets at the start of the next day")
			return false
		}
		s.spent += cost
	}
	return true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/token" {
		s.token(w, r)
		return
	}
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	tok, uid, ok := s.who(r)
	if !ok {
		pdErr(w, http.StatusUnauthorized, "unauthorized access")
		return
	}
	route := ""
	switch {
	case r.URL.Path == "/api/v1/callLogs" && r.Method == http.MethodPost:
		route = "add_call_log"
	case r.URL.Path == "/api/v1/activities" && r.Method == http.MethodGet:
		route = "list_activities"
	case r.URL.Path == "/api/v1/users" && r.Method == http.MethodGet:
		route = "users"
	case r.URL.Path == "/api/v1/users/me" && r.Method == http.MethodGet:
		route = "me"
	case (r.URL.Path == "/api/v2/persons" || r.URL.Path == "/api/v2/organizations") && r.Method == http.MethodGet:
		route = "list_v2"
	default:
		pdErr(w, http.StatusNotFound, "Unknown method .")
		return
	}
	if !s.limit(w, tok, route) {
		return
	}
	switch route {
	case "add_call_log":
		s.addCallLog(w, r, uid)
	case "list_activities":
		s.listActivities(w, r, uid)
	case "users":
		s.mu.Lock()
		var data []map[string]any
		for _, u := range s.users {
			data = append(data, map[string]any{"id": u.ID, "name": u.Name, "email": u.Email, "active_flag": u.Active, "is_admin": b2i(u.Admin)})
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "data": data})
	case "me":
		s.mu.Lock()
		u, _ := s.user(uid)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "data": map[string]any{"id": u.ID, "email": u.Email, "company_domain": s.opts.CompanyDomain}})
	case "list_v2":
		s.listV2(w, r)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// token is the OAuth server's /oauth/token, refresh token grant, the
// client authenticated with HTTP Basic ("Refreshing the tokens").
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenN++
	s.mu.Unlock()
	oauthErr := func(status int, code string) {
		writeJSON(w, status, map[string]any{"success": false, "error": code, "message": code})
	}
	basic, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Basic ")
	raw, _ := base64.StdEncoding.DecodeString(basic)
	if !ok || string(raw) != s.opts.ClientID+":"+s.opts.ClientSecret {
		oauthErr(http.StatusUnauthorized, "invalid_client")
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" {
		oauthErr(http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.PostForm.Get("refresh_token") != s.refresh || s.refresh == "" {
		oauthErr(http.StatusBadRequest, "invalid_grant")
		return
	}
	tok := "v1u:" + randHex(16)
	s.refresh = "refresh:" + randHex(16)
	s.oauth[tok] = s.opts.Now().Add(s.opts.AccessTTL)
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "refresh_token": s.refresh,
		"scope": "base,phone-integration,contacts:read,activities:read", "expires_in": int(s.opts.AccessTTL / time.Second),
		"api_domain": "https://" + s.opts.CompanyDomain + ".pipedrive.com"})
}
