package fakedataverse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIPath is where the Web API lives.
const APIPath = "/api/data/v9.2/"

// Options configure the fake.
type Options struct {
	// ClientID, ClientSecret and Scope are what the token endpoint
	// accepts (client credentials grant).
	ClientID, ClientSecret, Scope string
	// TokenTTL is the tokens' lifetime. Default 1h.
	TokenTTL time.Duration
	// RateLimit requests per RateWindow (sliding) per token, then 429.
	// 0: no limit. Dataverse: 6000 per 5 minutes.
	RateLimit  int
	RateWindow time.Duration
	// MaxConcurrent requests in flight, then 429. Default 52.
	MaxConcurrent int
	// MaxPageSize caps odata.maxpagesize. Default 5000.
	MaxPageSize int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// PhonecallAttributes are custom columns the phonecall table has
	// (strings, e.g. "new_wrapcode"), as an admin would add them.
	PhonecallAttributes []string
}

// SystemUser is a Dataverse user.
type SystemUser struct {
	ID, Email, FullName string
	Disabled            bool
}

// Record is a row of contacts, accounts or leads: attribute -> value.
type Record map[string]any

type table struct {
	key   string
	attrs map[string]bool
	order []string
	rows  map[string]Record
}

// Server is the fake. Use it as an http.Handler.
type Server struct {
	opts Options

	mu         sync.Mutex
	tokens     map[string]time.Time
	hits       map[string][]time.Time // per token, for the rate limit
	inflight   int
	phonecalls map[string]Record
	pcOrder    []string
	pcAttrs    map[string]bool   // phonecallAttrs and the custom ones
	tables     map[string]*table // by entity set
	users      []SystemUser
	requests   int
	throttled  int
	tokenCalls int
}

// New returns a fake with the standard tables empty.
func New(opts Options) *Server {
	if opts.TokenTTL == 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = 52
	}
	if opts.MaxPageSize == 0 {
		opts.MaxPageSize = 5000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts: opts, tokens: map[string]time.Time{}, hits: map[string][]time.Time{},
		phonecalls: map[string]Record{}, tables: map[string]*table{}, pcAttrs: map[string]bool{},
	}
	for a := range phonecallAttrs {
		s.pcAttrs[a] = true
	}
	for _, a := range opts.PhonecallAttributes {
		s.pcAttrs[a] = true
	}
	phones := []string{"telephone1", "telephone2", "telephone3", "mobilephone"}
	s.addTable("contacts", "contactid", append([]string{"fullname", "firstname", "lastname", "emailaddress1", "modifiedon", "_ownerid_value"}, phones...))
	s.addTable("leads", "leadid", append([]string{"fullname", "subject", "modifiedon", "_ownerid_value"}, phones...))
	s.addTable("accounts", "accountid", []string{"name", "telephone1", "telephone2", "telephone3", "modifiedon", "_ownerid_value", "accountcategorycode"})
	s.addTable("systemusers", "systemuserid", []string{"internalemailaddress", "fullname", "isdisabled", "modifiedon"})
	s.addQueueTables()
	return s
}

func (s *Server) addTable(set, key string, attrs []string) {
	t := &table{key: key, attrs: map[string]bool{key: true}, rows: map[string]Record{}}
	for _, a := range attrs {
		t.attrs[a] = true
	}
	s.tables[set] = t
}

// AddUser adds a system user.
func (s *Server) AddUser(u SystemUser) {
	s.put("systemusers", Record{"systemuserid": strings.ToLower(u.ID), "internalemailaddress": u.Email, "fullname": u.FullName, "isdisabled": u.Disabled})
}

// AddRecord adds or replaces a row of contacts, accounts or leads. Its key
// attribute must be set; modifiedon defaults to now.
func (s *Server) AddRecord(set string, r Record) {
	if _, ok := r["modifiedon"]; !ok {
		r["modifiedon"] = s.opts.Now().UTC().Format(time.RFC3339)
	}
	s.put(set, r)
}

func (s *Server) put(set string, r Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[set]
	id := strings.ToLower(fmt.Sprint(r[t.key]))
	r[t.key] = id
	if _, ok := t.rows[id]; !ok {
		t.order = append(t.order, id)
	}
	t.rows[id] = r
}

// Stats reports what the fake saw: API requests, of which throttled, and
// token requests.
func (s *Server) Stats() (requests, throttled, tokens int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.throttled, s.tokenCalls
}

// ServeHTTP routes token requests (any path ending in /token) and the Web
// API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/token"):
		s.token(w, r)
	case strings.HasPrefix(r.URL.Path, APIPath):
		s.api(w, r)
	default:
		http.NotFound(w, r)
	}
}

// dvErr writes the Dataverse error shape.
func dvErr(w http.ResponseWriter, status int, code, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": fmt.Sprintf(format, args...)}})
}

func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	// Authentication first, as the real service: nothing is told to an
	// unauthenticated caller.
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	s.mu.Lock()
	s.requests++
	exp, known := s.tokens[tok]
	s.mu.Unlock()
	if !ok || !known || !s.opts.Now().Before(exp) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if wait, code, limited := s.admit(tok); limited {
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		dvErr(w, http.StatusTooManyRequests, code, "Number of requests exceeded the limit of %d over time window of %s.", s.opts.RateLimit, s.opts.RateWindow)
		return
	}
	defer func() { s.mu.Lock(); s.inflight--; s.mu.Unlock() }()
	if v := r.Header.Get("OData-Version"); v != "4.0" {
		dvErr(w, http.StatusBadRequest, "0x80048d19", "The OData-Version header value %q is not supported; use 4.0.", v)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		dvErr(w, http.StatusBadRequest, "0x80048d19", "request body unreadable")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, APIPath)
	if path == "$batch" && r.Method == http.MethodPost {
		s.batch(w, r, body)
		return
	}
	rec := newRecorder()
	s.route(rec, r.Method, path, r.URL.Query(), r.Header, body, "http://"+r.Host, nil)
	rec.copyTo(w)
}

// admit applies the service-protection limits: concurrency and requests
// per sliding window. It returns the seconds to wait when refused.
func (s *Server) admit(tok string) (wait int, code string, limited bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight >= s.opts.MaxConcurrent {
		s.throttled++
		return 1, "0x80072326", true
	}
	if s.opts.RateLimit > 0 {
		now := s.opts.Now()
		h := s.hits[tok]
		cut := 0
		for cut < len(h) && now.Sub(h[cut]) >= s.opts.RateWindow {
			cut++
		}
		h = h[cut:]
		if len(h) >= s.opts.RateLimit {
			s.hits[tok] = h
			s.throttled++
			d := h[0].Add(s.opts.RateWindow).Sub(now)
			return max(1, int((d+time.Second-1)/time.Second)), "0x80072322", true
		}
		s.hits[tok] = append(h, now)
	}
	s.inflight++
	return 0, "", false
}

// route executes one request. log collects undo entries when non-nil.
func (s *Server) route(w http.ResponseWriter, method, path string, q url.Values, h http.Header, body []byte, origin string, log *[]undo) {
	if s.routeQueues(w, method, path, q, h, body, origin) {
		return
	}
	set, key, hasKey := strings.Cut(path, "(")
	if hasKey {
		var ok bool
		key, ok = strings.CutSuffix(key, ")")
		if !ok || !guid.MatchString(key) {
			dvErr(w, http.StatusBadRequest, "0x80060888", "Bad Request - Error in query syntax: key %q", key)
			return
		}
		key = strings.ToLower(key)
	}
	switch {
	case set == "phonecalls" && !hasKey && method == http.MethodPost:
		s.createPhonecall(w, h, body, log)
	case set == "phonecalls" && hasKey && method == http.MethodPatch:
		s.updatePhonecall(w, key, h, body, log)
	case set == "phonecalls" && hasKey && method == http.MethodGet:
		s.getPhonecall(w, key, q)
	case set == "phonecalls" && !hasKey && method == http.MethodGet:
		s.query(w, "phonecalls", q, h, origin, path)
	case s.tables[set] != nil && !hasKey && method == http.MethodGet:
		s.query(w, set, q, h, origin, path)
	default:
		dvErr(w, http.StatusNotFound, "0x8006088a", "Resource not found for the segment '%s'.", set)
	}
}

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
var bindRE = regexp.MustCompile(`^/?([a-z]+)\(([0-9a-fA-F-]{36})\)$`)

func jsonBody(w http.ResponseWriter, h http.Header, body []byte) (map[string]any, bool) {
	if mt, _, _ := mime.ParseMediaType(h.Get("Content-Type")); mt != "application/json" {
		dvErr(w, http.StatusUnsupportedMediaType, "0x80048d19", "Content-Type must be application/json, not %q", h.Get("Content-Type"))
		return nil, false
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		dvErr(w, http.StatusBadRequest, "0x80048d19", "Error identified in Payload provided by the user: %v", err)
		return nil, false
	}
	return m, true
}

func asInt(v any) (int64, error) {
	switch n := v.(type) {
	case json.Number:
		return n.Int64()
	case float64:
		return int64(n), nil
	}
	return 0, fmt.Errorf("not a number")
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.Header().Set("OData-Version", "4.0")
	_ = json.NewEncoder(w).Encode(v)
}

func marshal(v any) []byte { b, _ := json.Marshal(v); return b }

// recorder is a minimal ResponseWriter for inner and outer requests.
type recorder struct {
	status int
	header http.Header
	body   bytes.Buffer
}

func newRecorder() *recorder            { return &recorder{header: http.Header{}} }
func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}

func (r *recorder) copyTo(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	if r.status == 0 {
		r.status = 200
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body.Bytes())
}
