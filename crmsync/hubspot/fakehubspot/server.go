package fakehubspot

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callbridge/callbridge/crmsync/internal/fakehttp"
)

// Options configure the fake.
type Options struct {
	// Tokens are the private app access tokens accepted.
	Tokens []string
	// PortalID and UIDomain are the account's details.
	PortalID int64
	UIDomain string
	// TenSecondly requests per rolling 10 s, then 429
	// TEN_SECONDLY_ROLLING (API usage guidelines: 100 for Free and
	// Starter, 190 for Professional and Enterprise private apps). 0: none.
	TenSecondly int
	// Window is the rolling window of TenSecondly: 10 s, as HubSpot's;
	// benchmarks shorten it to meet the limit sooner.
	Window time.Duration
	// Daily requests per day (UTC midnight here; the account's time zone
	// in HubSpot), then 429 DAILY. 0: none.
	Daily int
	// SearchPerSecond: the search endpoints' own limit (five requests a
	// second per token), then 429 SECONDLY. Default 5; -1: none.
	SearchPerSecond int
	// IndexLag is how long a written record stays invisible to search.
	// Default 2 s.
	IndexLag time.Duration
	// CallProperties are the account's custom calls properties (internal
	// name); default callbridge_activity_id and callbridge_template.
	CallProperties []string
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

type row struct {
	id       string
	props    map[string]string
	created  time.Time
	updated  time.Time
	archived bool
	assoc    []association
}

type association struct {
	to  string
	typ int
}

type table struct {
	name  string
	props map[string]string // internal name -> type
	rows  []*row
	byID  map[string]*row
}

type owner struct {
	ID, Email, FirstName, LastName string
	Archived                       bool
}

// Server is the fake. Use it as an http.Handler.
type Server struct {
	opts  Options
	loser *fakehttp.Loser

	mu       sync.Mutex
	tokens   map[string]bool
	burst    fakehttp.Window
	search   fakehttp.Window
	day      string
	dayCount int
	tables   map[string]*table
	owners   []owner
	nextID   int64
	requests int
	limited  int
}

// New returns a fake with no records.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.IndexLag == 0 {
		opts.IndexLag = 2 * time.Second
	}
	if opts.SearchPerSecond == 0 {
		opts.SearchPerSecond = 5
	}
	if opts.PortalID == 0 {
		opts.PortalID = 14567890
	}
	if opts.UIDomain == "" {
		opts.UIDomain = "app-eu1.hubspot.com"
	}
	if opts.CallProperties == nil {
		opts.CallProperties = []string{"callbridge_activity_id", "callbridge_template"}
	}
	s := &Server{opts: opts, tokens: map[string]bool{}, tables: map[string]*table{}, nextID: 50_000_000_000}
	for _, t := range opts.Tokens {
		s.tokens[t] = true
	}
	if opts.Window == 0 {
		opts.Window = 10 * time.Second
	}
	s.opts.Window = opts.Window
	s.burst = fakehttp.Window{Limit: opts.TenSecondly, Span: opts.Window}
	if opts.SearchPerSecond > 0 {
		s.search = fakehttp.Window{Limit: opts.SearchPerSecond, Span: time.Second}
	}
	s.loser = &fakehttp.Loser{Handler: http.HandlerFunc(s.serve)}
	calls := map[string]string{}
	for k, v := range callProps {
		calls[k] = v
	}
	for _, p := range opts.CallProperties {
		calls[p] = "string"
	}
	s.tables["calls"] = &table{name: "calls", props: calls, byID: map[string]*row{}}
	s.tables["contacts"] = &table{name: "contacts", byID: map[string]*row{}, props: map[string]string{
		"firstname": "string", "lastname": "string", "email": "string", "phone": "string", "mobilephone": "string",
		"associatedcompanyid": "number", "lastmodifieddate": "readonly", "createdate": "readonly", "hs_object_id": "readonly"}}
	s.tables["companies"] = &table{name: "companies", byID: map[string]*row{}, props: map[string]string{
		"name": "string", "domain": "string", "phone": "string",
		"hs_lastmodifieddate": "readonly", "createdate": "readonly", "hs_object_id": "readonly"}}
	return s
}

func (s *Server) newID() string {
	s.nextID++
	return strconv.FormatInt(s.nextID, 10)
}

func (s *Server) insert(set string, props map[string]string, assoc []association) *row {
	now := s.opts.Now().UTC()
	r := &row{id: s.newID(), props: props, created: now, updated: now, assoc: assoc}
	t := s.tables[set]
	stamp := now.Format("2006-01-02T15:04:05.000Z")
	r.props["hs_object_id"] = r.id
	r.props["createdate"] = stamp
	if set == "contacts" {
		r.props["lastmodifieddate"] = stamp
	} else {
		r.props["hs_lastmodifieddate"] = stamp
	}
	t.rows = append(t.rows, r)
	t.byID[r.id] = r
	return r
}

// AddOwner adds an owner (archived: a deactivated user) and returns its id.
func (s *Server) AddOwner(email, first, last string, archived bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newID()
	s.owners = append(s.owners, owner{ID: id, Email: email, FirstName: first, LastName: last, Archived: archived})
	return id
}

// AddRecord adds a contact or company and returns its id.
func (s *Server) AddRecord(set string, props map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.insert(set, props, nil).id
}

// Archive archives (deletes) a record.
func (s *Server) Archive(set, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.tables[set].byID[id]; r != nil {
		r.archived = true
		r.updated = s.opts.Now().UTC()
	}
}

// Call is a stored call: its properties and associations.
type Call struct {
	ID           string
	Properties   map[string]string
	Associations map[int][]string // type id -> record ids
}

// Calls returns the stored calls.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, r := range s.tables["calls"].rows {
		c := Call{ID: r.id, Properties: map[string]string{}, Associations: map[int][]string{}}
		for k, v := range r.props {
			c.Properties[k] = v
		}
		for _, a := range r.assoc {
			c.Associations[a.typ] = append(c.Associations[a.typ], a.to)
		}
		out = append(out, c)
	}
	return out
}

// Count is how many calls carry marker value id in property prop.
func (s *Server) Count(prop, id string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Properties[prop] == id {
			n++
		}
	}
	return n
}

// Stats reports requests and how many the limits refused.
func (s *Server) Stats() (requests, limited int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.limited
}

// Rotate replaces token old by new, as rotating a private app's token
// does once the old one expires.
func (s *Server) Rotate(old, new string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, old)
	s.tokens[new] = true
}

// LoseNext makes the fake carry out the next n requests with method whose
// path contains path, then drop the connection before answering.
func (s *Server) LoseNext(method, path string, n int) { s.loser.LoseNext(method, path, n) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.loser.ServeHTTP(w, r) }

func correlation() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// hsErr writes HubSpot's error shape (the SDK's Error model).
func hsErr(w http.ResponseWriter, status int, category, msg string, details ...map[string]any) {
	body := map[string]any{"status": "error", "message": msg, "correlationId": correlation(), "category": category}
	if len(details) > 0 {
		body["errors"] = details
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// limit applies the rate limits, writing the 429 when one refuses (API
// usage guidelines: the body's policyName says which).
func (s *Server) limit(w http.ResponseWriter, isSearch bool) bool {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	refuse := func(policy, msg string) bool {
		s.limited++
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(http.StatusTooManyRequests)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "error", "message": msg, "errorType": "RATE_LIMIT",
			"correlationId": correlation(), "policyName": policy, "requestId": correlation()})
		return false
	}
	if day := now.UTC().Format(time.DateOnly); day != s.day {
		s.day, s.dayCount = day, 0
	}
	if s.opts.Daily > 0 {
		w.Header().Set("X-HubSpot-RateLimit-Daily", strconv.Itoa(s.opts.Daily))
		w.Header().Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(max(0, s.opts.Daily-s.dayCount-1)))
		if s.dayCount >= s.opts.Daily {
			return refuse("DAILY", "You have reached your daily limit.")
		}
	}
	if s.opts.TenSecondly > 0 {
		ok, _, used := s.burst.Admit(now)
		w.Header().Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(s.opts.Window.Milliseconds(), 10))
		w.Header().Set("X-HubSpot-RateLimit-Max", strconv.Itoa(s.opts.TenSecondly))
		w.Header().Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(max(0, s.opts.TenSecondly-used)))
		if !ok {
			return refuse("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.")
		}
	}
	if isSearch && s.search.Limit > 0 {
		if ok, _, _ := s.search.Admit(now); !ok {
			return refuse("SECONDLY", "You have reached your secondly limit.")
		}
	}
	s.dayCount++
	return true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	// A private app's token goes in Authorization: Bearer (private apps
	// guide); anything else is 401 INVALID_AUTHENTICATION.
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	known := ok && s.tokens[tok]
	s.mu.Unlock()
	if !known {
		hsErr(w, http.StatusUnauthorized, "INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
		return
	}
	path := r.URL.Path
	isSearch := strings.HasSuffix(path, "/search")
	if !s.limit(w, isSearch) {
		return
	}
	switch {
	case path == "/crm/v3/objects/calls" && r.Method == http.MethodPost:
		s.createCall(w, r)
	case path == "/crm/v3/objects/calls/batch/create" && r.Method == http.MethodPost:
		s.batchCreate(w, r)
	case isSearch && r.Method == http.MethodPost:
		s.searchObjects(w, r, strings.TrimSuffix(strings.TrimPrefix(path, "/crm/v3/objects/"), "/search"))
	case (path == "/crm/v3/objects/contacts" || path == "/crm/v3/objects/companies") && r.Method == http.MethodGet:
		s.list(w, r, strings.TrimPrefix(path, "/crm/v3/objects/"))
	case path == "/crm/v3/owners" && r.Method == http.MethodGet:
		s.listOwners(w, r.URL.Query())
	case path == "/account-info/v3/details" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"portalId": s.opts.PortalID, "uiDomain": s.opts.UIDomain,
			"timeZone": "Europe/Helsinki", "companyCurrency": "EUR", "dataHostingLocation": "eu1"})
	default:
		hsErr(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "resource not found")
	}
}

// listOwners is GET /crm/v3/owners: at most 500 a page, archived owners
// only with archived=true (Owners API).
func (s *Server) listOwners(w http.ResponseWriter, q url.Values) {
	limit, after, ok := paging(w, q, 500)
	if !ok {
		return
	}
	s.mu.Lock()
	var active []owner
	for _, o := range s.owners {
		if o.Archived == (q.Get("archived") == "true") {
			active = append(active, o)
		}
	}
	s.mu.Unlock()
	end := min(after+limit, len(active))
	var results []map[string]any
	for _, o := range active[min(after, end):end] {
		results = append(results, map[string]any{"id": o.ID, "email": o.Email, "firstName": o.FirstName, "lastName": o.LastName,
			"userId": 1, "archived": o.Archived, "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"})
	}
	resp := map[string]any{"results": nonNil(results)}
	if end < len(active) {
		resp["paging"] = map[string]any{"next": map[string]any{"after": strconv.Itoa(end)}}
	}
	writeJSON(w, http.StatusOK, resp)
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// paging reads limit and after, refusing a limit above max.
func paging(w http.ResponseWriter, q url.Values, maxLimit int) (limit, after int, ok bool) {
	limit = 10 // the API's default page
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			hsErr(w, http.StatusBadRequest, "VALIDATION_ERROR", fmt.Sprintf("limit must be between 1 and %d", maxLimit))
			return 0, 0, false
		}
		limit = n
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			hsErr(w, http.StatusBadRequest, "VALIDATION_ERROR", "after must be a paging cursor")
			return 0, 0, false
		}
		after = n
	}
	return limit, after, true
}

// view is a record as the API shows it: the properties asked for (those
// that exist; unknown ones are left out without a word) and hs_object_id.
func view(t *table, r *row, props []string) map[string]any {
	p := map[string]any{"hs_object_id": r.id}
	for _, k := range props {
		if _, known := t.props[k]; !known {
			continue
		}
		if v, ok := r.props[k]; ok {
			p[k] = v
		} else {
			p[k] = nil
		}
	}
	return map[string]any{"id": r.id, "properties": p, "createdAt": r.created.Format(time.RFC3339Nano),
		"updatedAt": r.updated.Format(time.RFC3339Nano), "archived": r.archived}
}

// list is GET /crm/v3/objects/{contacts,companies}: 100 a page at most,
// archived records left out (CRM objects API).
func (s *Server) list(w http.ResponseWriter, r *http.Request, set string) {
	q := r.URL.Query()
	limit, after, ok := paging(w, q, 100)
	if !ok {
		return
	}
	var props []string
	if v := q.Get("properties"); v != "" {
		props = strings.Split(v, ",")
	}
	s.mu.Lock()
	t := s.tables[set]
	live := slices.DeleteFunc(slices.Clone(t.rows), func(r *row) bool { return r.archived })
	end := min(after+limit, len(live))
	var results []map[string]any
	for _, rw := range live[min(after, end):end] {
		results = append(results, view(t, rw, props))
	}
	s.mu.Unlock()
	resp := map[string]any{"results": nonNil(results)}
	if end < len(live) {
		resp["paging"] = map[string]any{"next": map[string]any{"after": strconv.Itoa(end)}}
	}
	writeJSON(w, http.StatusOK, resp)
}
