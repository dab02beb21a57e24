package fakezoho

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callbridge/callbridge/crmsync/internal/fakehttp"
)

// Options configure the fake.
type Options struct {
	// ClientID, ClientSecret and RefreshToken are what the token endpoint
	// accepts.
	ClientID, ClientSecret, RefreshToken string
	// TokenTTL is an access token's life (Zoho: an hour).
	TokenTTL time.Duration
	// Credits per CreditWindow (rolling; Zoho counts 24 hours), then 429
	// TOO_MANY_REQUESTS. 0: unlimited.
	Credits      int
	CreditWindow time.Duration
	// MaxConcurrent calls in flight (Zoho: 5 for Free up to 25 for
	// Ultimate), then 429. Default 20 (Enterprise).
	MaxConcurrent int
	// CallFields are the Calls module's custom fields; default
	// Callbridge_Activity_Id and Callbridge_Template.
	CallFields []string
	// UniqueMarker makes Callbridge_Activity_Id refuse duplicates ("Do
	// not allow duplicate values").
	UniqueMarker bool
	// DomainName is the org's name in web URLs. Default org60012345.
	DomainName string
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

type record struct {
	id       string
	fields   map[string]any
	modified time.Time
}

type module struct {
	fields map[string]string
	rows   []*record
	byID   map[string]*record
}

type user struct{ ID, Email, FullName, Status string }

// Server is the fake. Use it as an http.Handler.
type Server struct {
	opts  Options
	loser *fakehttp.Loser

	mu       sync.Mutex
	tokens   map[string]time.Time
	credits  fakehttp.Window
	inflight int
	modules  map[string]*module
	users    []user
	nextID   int64
	requests int
	limited  int
	tokenN   int
}

// New returns a fake with empty modules.
func New(opts Options) *Server {
	if opts.TokenTTL == 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.CreditWindow == 0 {
		opts.CreditWindow = 24 * time.Hour
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = 20
	}
	if opts.CallFields == nil {
		opts.CallFields = []string{"Callbridge_Activity_Id", "Callbridge_Template"}
	}
	if opts.DomainName == "" {
		opts.DomainName = "org60012345"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, tokens: map[string]time.Time{}, modules: map[string]*module{}, nextID: 4150868000000000000,
		credits: fakehttp.Window{Limit: opts.Credits, Span: opts.CreditWindow}}
	s.loser = &fakehttp.Loser{Handler: http.HandlerFunc(s.serve)}
	calls := map[string]string{}
	for k, v := range callFields {
		calls[k] = v
	}
	for _, f := range opts.CallFields {
		calls[f] = "text"
	}
	s.modules["Calls"] = &module{fields: calls, byID: map[string]*record{}}
	s.modules["Contacts"] = &module{byID: map[string]*record{}, fields: map[string]string{"Full_Name": "text", "First_Name": "text", "Last_Name": "text",
		"Phone": "phone", "Mobile": "phone", "Home_Phone": "phone", "Other_Phone": "phone", "Asst_Phone": "phone", "Email": "email",
		"Account_Name": "lookup:Accounts", "Modified_Time": "datetime"}}
	s.modules["Leads"] = &module{byID: map[string]*record{}, fields: map[string]string{"Full_Name": "text", "Last_Name": "text", "Company": "text",
		"Phone": "phone", "Mobile": "phone", "Modified_Time": "datetime"}}
	s.modules["Accounts"] = &module{byID: map[string]*record{}, fields: map[string]string{"Account_Name": "text", "Phone": "phone", "Modified_Time": "datetime"}}
	return s
}

func (s *Server) newID() string {
	s.nextID += 1001
	return strconv.FormatInt(s.nextID, 10)
}

func zTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-07:00") }

func (s *Server) insert(mod string, f map[string]any) *record {
	now := s.opts.Now()
	r := &record{id: s.newID(), fields: f, modified: now}
	f["id"] = r.id
	f["Modified_Time"] = zTime(now)
	m := s.modules[mod]
	m.rows = append(m.rows, r)
	m.byID[r.id] = r
	return r
}

// AddUser adds a user (status "active", "disabled" or "deleted") and
// returns its id.
func (s *Server) AddUser(email, name, status string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newID()
	s.users = append(s.users, user{ID: id, Email: email, FullName: name, Status: status})
	return id
}

// AddRecord adds a Contacts, Leads or Accounts record and returns its id.
// A lookup is given as the looked-up record's id.
func (s *Server) AddRecord(mod string, fields map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := map[string]any{}
	for k, v := range fields {
		if strings.HasPrefix(s.modules[mod].fields[k], "lookup:") {
			f[k] = map[string]any{"id": v, "name": "x"}
			continue
		}
		f[k] = v
	}
	return s.insert(mod, f).id
}

// Delete removes a record.
func (s *Server) Delete(mod, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.modules[mod]
	delete(m.byID, id)
	m.rows = slices.DeleteFunc(m.rows, func(r *record) bool { return r.id == id })
}

// Calls returns the stored Calls records.
func (s *Server) Calls() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, r := range s.modules["Calls"].rows {
		c := map[string]any{}
		for k, v := range r.fields {
			c[k] = v
		}
		out = append(out, c)
	}
	return out
}

// Count is how many calls carry marker id.
func (s *Server) Count(id string) int {
	n := 0
	for _, c := range s.Calls() {
		if c["Callbridge_Activity_Id"] == id {
			n++
		}
	}
	return n
}

// Stats reports API requests, of which refused by the limits, and token
// requests.
func (s *Server) Stats() (requests, limited, tokens int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.limited, s.tokenN
}

// ExpireTokens ends every access token's life.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.tokens {
		s.tokens[t] = time.Time{}
	}
}

// LoseNext makes the fake carry out the next n requests with method whose
// path contains path, then drop the connection before answering.
func (s *Server) LoseNext(method, path string, n int) { s.loser.LoseNext(method, path, n) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.loser.ServeHTTP(w, r) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// zErr writes Zoho's error shape for a request.
func zErr(w http.ResponseWriter, status int, code, msg string, details map[string]any) {
	if details == nil {
		details = map[string]any{}
	}
	writeJSON(w, status, map[string]any{"code": code, "details": details, "message": msg, "status": "error"})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/v2/token" {
		s.token(w, r)
		return
	}
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	// The access token goes in "Authorization: Zoho-oauthtoken <token>"
	// (OAuth, "Make API calls"); a missing header is
	// AUTHENTICATION_FAILURE, a bad or expired token INVALID_TOKEN, 401.
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Zoho-oauthtoken ")
	s.mu.Lock()
	exp, known := s.tokens[tok]
	s.mu.Unlock()
	switch {
	case auth == "":
		zErr(w, http.StatusUnauthorized, "AUTHENTICATION_FAILURE", "Authentication failed", nil)
		return
	case !ok || !known || !s.opts.Now().Before(exp):
		zErr(w, http.StatusUnauthorized, "INVALID_TOKEN", "invalid oauth token", nil)
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/crm/v8/")
	if !ok {
		zErr(w, http.StatusBadRequest, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one", nil)
		return
	}
	cost := 1
	if path == "coql" {
		cost = 0 // charged by LIMIT once the query is read
	}
	if !s.admit(w, cost) {
		return
	}
	defer func() { s.mu.Lock(); s.inflight--; s.mu.Unlock() }()
	switch {
	case path == "Calls" && r.Method == http.MethodPost:
		s.insertCalls(w, r)
	case path == "settings/fields" && r.Method == http.MethodGet && r.URL.Query().Get("module") == "Calls":
		s.callFieldsMeta(w)
	case path == "coql" && r.Method == http.MethodPost:
		s.coql(w, r)
	case path == "users" && r.Method == http.MethodGet:
		s.listUsers(w, r)
	case path == "org" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"org": []map[string]any{{"domain_name": s.opts.DomainName, "id": "60012345", "zgid": "60012345"}}})
	case (path == "Contacts" || path == "Leads" || path == "Accounts") && r.Method == http.MethodGet:
		s.listRecords(w, r, path)
	default:
		zErr(w, http.StatusBadRequest, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one", nil)
	}
}

// admit applies the limits (API limits: credits over a rolling 24 hours,
// concurrency per edition), answering 429 TOO_MANY_REQUESTS.
func (s *Server) admit(w http.ResponseWriter, cost int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight >= s.opts.MaxConcurrent {
		s.limited++
		zErr(w, http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "concurrency limit of the org exceeded", map[string]any{"limit": s.opts.MaxConcurrent})
		return false
	}
	for range cost {
		if ok, _, _ := s.credits.Admit(s.opts.Now()); !ok {
			s.limited++
			zErr(w, http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "API credits of the org exhausted for the 24-hour window", nil)
			return false
		}
	}
	s.inflight++
	return true
}

// token is the accounts server's /oauth/v2/token, refresh token grant. A
// refused grant is answered 200 with an error field ({"error":
// "invalid_code"}), as Zoho's accounts server does.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenN++
	s.mu.Unlock()
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		writeJSON(w, http.StatusOK, map[string]string{"error": "invalid_request"})
		return
	}
	f := r.Form
	switch {
	case f.Get("grant_type") != "refresh_token":
		writeJSON(w, http.StatusOK, map[string]string{"error": "unsupported_grant_type"})
	case f.Get("client_id") != s.opts.ClientID || f.Get("client_secret") != s.opts.ClientSecret:
		writeJSON(w, http.StatusOK, map[string]string{"error": "invalid_client"})
	case f.Get("refresh_token") != s.opts.RefreshToken:
		writeJSON(w, http.StatusOK, map[string]string{"error": "invalid_code"})
	default:
		var b [16]byte
		_, _ = rand.Read(b[:])
		tok := "1000." + hex.EncodeToString(b[:])
		s.mu.Lock()
		s.tokens[tok] = s.opts.Now().Add(s.opts.TokenTTL)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "api_domain": "https://" + r.Host,
			"token_type": "Bearer", "expires_in": int(s.opts.TokenTTL / time.Second)})
	}
}

// listUsers is GET /users?type=AllUsers: 200 a page, info.more_records.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	per, _ := strconv.Atoi(q.Get("per_page"))
	if page < 1 {
		page = 1
	}
	if per < 1 || per > 200 {
		per = 200
	}
	s.mu.Lock()
	var list []map[string]any
	for _, u := range s.users {
		if q.Get("type") == "AllUsers" || (q.Get("type") == "ActiveUsers" && u.Status == "active") {
			list = append(list, map[string]any{"id": u.ID, "email": u.Email, "full_name": u.FullName, "status": u.Status})
		}
	}
	s.mu.Unlock()
	from, to := min((page-1)*per, len(list)), min(page*per, len(list))
	if from == to {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": list[from:to],
		"info": map[string]any{"per_page": per, "count": to - from, "page": page, "more_records": to < len(list)}})
}
