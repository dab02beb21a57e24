package fakecreatio

import (
	"crypto/rand"
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
	// ClientID and ClientSecret are what the identity service accepts.
	ClientID, ClientSecret string
	// Username and Password are what forms login accepts.
	Username, Password string
	// TokenTTL is an access token's and a session's life. Default 1h.
	TokenTTL time.Duration
	// Limit requests per Window, then 429 with Retry-After. Creatio does
	// not publish API rate limits; this stands for whatever throttles in
	// front of a site. 0: none.
	Limit  int
	Window time.Duration
	// ActivityColumns and CallColumns are custom text columns (Usr…).
	// Default UsrCallbridgeTemplate on both.
	ActivityColumns, CallColumns []string
	// ODataPath is the service path. Default /0/odata.
	ODataPath string
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Row is a table row: column -> value.
type Row map[string]any

type table struct {
	cols  map[string]string
	rows  map[string]Row
	order []string
}

// Server is the fake. Use it as an http.Handler.
type Server struct {
	opts  Options
	loser *fakehttp.Loser

	mu       sync.Mutex
	tokens   map[string]time.Time
	sessions map[string]session // .ASPXAUTH -> session
	window   fakehttp.Window
	tables   map[string]*table
	requests int
	limited  int
	logins   int
}

type session struct {
	csrf    string
	expires time.Time
}

// Standard lookup values (the base configuration's ActivityConsts and
// CallConsts).
var lookups = map[string][]string{
	"CallDirection":    {"1d96a65f-2131-4916-8825-2d142b1000b2", "53f71b5b-5d46-4ee2-8ea4-a4f8fc76a8ae", "c072be2c-3d82-4468-9d4a-6db47d1f4cca"},
	"ActivityType":     {"fbe0acdc-cfc0-df11-b00f-001d60e938c6", "e2831dec-cfc0-df11-b00f-001d60e938c6"},
	"ActivityCategory": {"03df85bf-6b19-4dea-8463-d5d49b80bb28", "f51c4643-58e6-df11-971b-001d60e938c6"},
	"ActivityStatus":   {"384d4b84-58e6-df11-971b-001d60e938c6", "394d4b84-58e6-df11-971b-001d60e938c6", "4bdbb88f-58e6-df11-971b-001d60e938c6", "201cfba8-58e6-df11-971b-001d60e938c6"},
}

// New returns a site with empty tables and the standard lookups.
func New(opts Options) *Server {
	if opts.TokenTTL == 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ODataPath == "" {
		opts.ODataPath = "/0/odata"
	}
	if opts.ActivityColumns == nil {
		opts.ActivityColumns = []string{"UsrCallbridgeTemplate"}
	}
	if opts.CallColumns == nil {
		opts.CallColumns = []string{"UsrCallbridgeTemplate"}
	}
	s := &Server{opts: opts, tokens: map[string]time.Time{}, sessions: map[string]session{}, tables: map[string]*table{},
		window: fakehttp.Window{Limit: opts.Limit, Span: opts.Window}}
	s.loser = &fakehttp.Loser{Handler: http.HandlerFunc(s.serve)}
	common := map[string]string{"Id": "key", "CreatedOn": "readonly", "ModifiedOn": "readonly"}
	def := func(name string, cols map[string]string, custom ...string) {
		t := &table{cols: map[string]string{}, rows: map[string]Row{}}
		for k, v := range common {
			t.cols[k] = v
		}
		for k, v := range cols {
			t.cols[k] = v
		}
		for _, c := range custom {
			t.cols[c] = "string:250"
		}
		s.tables[name] = t
	}
	for name, ids := range lookups {
		def(name, map[string]string{"Name": "string:250"})
		for _, id := range ids {
			s.put(name, Row{"Id": id, "Name": name})
		}
	}
	def("Contact", map[string]string{"Name": "string:250", "Phone": "string:250", "MobilePhone": "string:250", "HomePhone": "string:250",
		"Email": "string:250", "AccountId": "ref:Account"})
	def("Account", map[string]string{"Name": "string:250", "Phone": "string:250", "AdditionalPhone": "string:250"})
	def("SysAdminUnit", map[string]string{"Name": "string:250", "Active": "bool", "ContactId": "ref:Contact", "SysAdminUnitTypeValue": "int"})
	// Call (the telephony section): direction, numbers, times and
	// durations in seconds, the contact and account, the telephony
	// system's own id.
	def("Call", map[string]string{"Caption": "string:250", "StartDate": "datetime", "EndDate": "datetime", "Duration": "int", "TalkTime": "int",
		"CallerId": "string:250", "CalledId": "string:250", "DirectionId": "ref:CallDirection", "IntegrationId": "string:250",
		"ContactId": "ref:Contact", "AccountId": "ref:Account"}, opts.CallColumns...)
	// Activity: a task of category Call, on the owner's timeline.
	def("Activity", map[string]string{"Title": "string:500", "StartDate": "datetime", "DueDate": "datetime", "TypeId": "ref:ActivityType",
		"ActivityCategoryId": "ref:ActivityCategory", "StatusId": "ref:ActivityStatus", "OwnerId": "ref:Contact",
		"ContactId": "ref:Contact", "AccountId": "ref:Account", "DetailedResult": "text"}, opts.ActivityColumns...)
	return s
}

func newGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *Server) put(name string, r Row) string {
	t := s.tables[name]
	id, _ := r["Id"].(string)
	if id == "" {
		id = newGUID()
	}
	id = strings.ToLower(id)
	r["Id"] = id
	now := s.opts.Now().UTC().Format("2006-01-02T15:04:05Z")
	if _, ok := r["CreatedOn"]; !ok {
		r["CreatedOn"] = now
	}
	r["ModifiedOn"] = now
	if _, ok := t.rows[id]; !ok {
		t.order = append(t.order, id)
	}
	t.rows[id] = r
	return id
}

// Add adds a row to a table and returns its Id.
func (s *Server) Add(table string, r Row) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.put(table, r)
}

// AddUser adds a user (a SysAdminUnit of type 4) with its employee
// contact and returns the contact's Id.
func (s *Server) AddUser(name, email string, active bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	contact := s.put("Contact", Row{"Name": name, "Email": email})
	s.put("SysAdminUnit", Row{"Name": name, "Active": active, "ContactId": contact, "SysAdminUnitTypeValue": int64(4)})
	return contact
}

// Delete removes a row.
func (s *Server) Delete(table, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tables[table].rows, strings.ToLower(id))
}

// Get returns a row.
func (s *Server) Get(table, id string) (Row, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.tables[table].rows[strings.ToLower(id)]
	return r, ok
}

// Count is how many rows table holds.
func (s *Server) Count(table string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tables[table].rows)
}

// Stats reports requests, of which refused by the limit, and logins and
// token requests.
func (s *Server) Stats() (requests, limited, logins int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.limited, s.logins
}

// Expire ends every token's and session's life.
func (s *Server) Expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.tokens {
		s.tokens[t] = time.Time{}
	}
	for k, v := range s.sessions {
		v.expires = time.Time{}
		s.sessions[k] = v
	}
}

// LoseNext makes the fake carry out the next n requests with method whose
// path contains path, then drop the connection before answering.
func (s *Server) LoseNext(method, path string, n int) { s.loser.LoseNext(method, path, n) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.loser.ServeHTTP(w, r) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// odataErr writes the OData error shape.
func odataErr(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": "", "message": msg}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/connect/token":
		s.token(w, r)
		return
	case "/ServiceModel/AuthService.svc/Login":
		s.login(w, r)
		return
	}
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	if !s.authorized(r) {
		odataErr(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	s.mu.Lock()
	ok, wait, _ := s.window.Admit(s.opts.Now())
	if !ok {
		s.limited++
	}
	s.mu.Unlock()
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second))))
		odataErr(w, http.StatusTooManyRequests, "Too many requests")
		return
	}
	path, found := strings.CutPrefix(r.URL.Path, s.opts.ODataPath+"/")
	if !found {
		odataErr(w, http.StatusNotFound, "No HTTP resource was found that matches the request URI.")
		return
	}
	s.odata(w, r, path)
}

// authorized checks a bearer token from the identity service, or a forms
// session: the .ASPXAUTH cookie and a BPMCSRF header equal to the BPMCSRF
// cookie (Creatio, "Authentication": "add the BPMCSRF cookie value to the
// BPMCSRF header of each request").
func (s *Server) authorized(r *http.Request) bool {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		exp, known := s.tokens[tok]
		return known && now.Before(exp)
	}
	auth, err := r.Cookie(".ASPXAUTH")
	if err != nil {
		return false
	}
	sess, known := s.sessions[auth.Value]
	csrf, err := r.Cookie("BPMCSRF")
	return known && now.Before(sess.expires) && err == nil && csrf.Value == sess.csrf && r.Header.Get("BPMCSRF") == sess.csrf
}

// token is the identity service's /connect/token, client credentials.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.logins++
	s.mu.Unlock()
	if r.ParseForm() != nil || r.Method != http.MethodPost || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	if r.PostForm.Get("client_id") != s.opts.ClientID || r.PostForm.Get("client_secret") != s.opts.ClientSecret || s.opts.ClientID == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client"})
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "eyJhbGciOi." + hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = s.opts.Now().Add(s.opts.TokenTTL)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": int(s.opts.TokenTTL / time.Second), "token_type": "Bearer", "scope": "ApplicationAccess"})
}

// login is AuthService.svc/Login: a refused login is still 200, with
// Code 1 and a message; a good one sets the session's cookies.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.logins++
	s.mu.Unlock()
	var in struct{ UserName, UserPassword string }
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&in) != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"Code": 1, "Message": "Bad request"})
		return
	}
	if in.UserName != s.opts.Username || in.UserPassword != s.opts.Password || s.opts.Username == "" {
		writeJSON(w, http.StatusOK, map[string]any{"Code": 1, "Message": "Invalid username or password specified.", "Exception": nil})
		return
	}
	auth, csrf := hex.EncodeToString(randBytes(24)), hex.EncodeToString(randBytes(12))
	s.mu.Lock()
	s.sessions[auth] = session{csrf: csrf, expires: s.opts.Now().Add(s.opts.TokenTTL)}
	s.mu.Unlock()
	for name, v := range map[string]string{".ASPXAUTH": auth, "BPMCSRF": csrf, "BPMLOADER": hex.EncodeToString(randBytes(8)), "UserName": in.UserName} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: v, Path: "/", HttpOnly: name == ".ASPXAUTH"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"Code": 0, "Message": "", "Exception": nil, "PasswordChangeUrl": nil, "RedirectUrl": nil})
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
