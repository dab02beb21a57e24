package fakedataverse

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
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

// Attributes a phonecall has (those callbridge may touch and a few more).
var phonecallAttrs = map[string]bool{
	"activityid": true, "subject": true, "phonenumber": true, "directioncode": true,
	"actualstart": true, "actualend": true, "actualdurationminutes": true, "description": true,
	"scheduledstart": true, "scheduledend": true, "statecode": true, "statuscode": true,
	"_ownerid_value": true, "_regardingobjectid_value": true, "modifiedon": true, "createdon": true,
}

// Navigation properties a phonecall create may bind, and the entity sets
// they point to.
var phonecallBinds = map[string]string{
	"ownerid":                             "systemusers",
	"regardingobjectid_contact_phonecall": "contacts",
	"regardingobjectid_account_phonecall": "accounts",
	"regardingobjectid_lead_phonecall":    "leads",
}

var partyBinds = map[string]string{
	"partyid_systemuser": "systemusers",
	"partyid_contact":    "contacts",
	"partyid_account":    "accounts",
	"partyid_lead":       "leads",
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

// Phonecall returns the stored phonecall with activityid id.
func (s *Server) Phonecall(id string) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.phonecalls[strings.ToLower(id)]
	return r, ok
}

// Count is how many phonecalls have activityid id (0 or 1: the primary
// key is unique, which is what makes retries safe).
func (s *Server) Count(id string) int {
	if _, ok := s.Phonecall(id); ok {
		return 1
	}
	return 0
}

// Phonecalls is how many phonecalls are stored.
func (s *Server) Phonecalls() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.phonecalls) }

// Stats reports what the fake saw: API requests, of which throttled, and
// token requests.
func (s *Server) Stats() (requests, throttled, tokens int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.throttled, s.tokenCalls
}

// RevokeTokens invalidates every issued token, as a password reset or an
// expiry would.
func (s *Server) RevokeTokens() { s.mu.Lock(); clear(s.tokens); s.mu.Unlock() }

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

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenCalls++
	s.mu.Unlock()
	oauthErr := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		oauthErr(405, "invalid_request", "AADSTS900561: The endpoint only accepts POST requests.")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(400, "invalid_request", "AADSTS900144: malformed body")
		return
	}
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "client_credentials":
		oauthErr(400, "unsupported_grant_type", "AADSTS70003: grant_type must be client_credentials")
	case f.Get("client_id") != s.opts.ClientID:
		oauthErr(400, "unauthorized_client", "AADSTS700016: Application not found in the directory.")
	case f.Get("client_secret") != s.opts.ClientSecret:
		oauthErr(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
	case f.Get("scope") != s.opts.Scope:
		oauthErr(400, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid.")
	default:
		var b [24]byte
		_, _ = rand.Read(b[:])
		tok := "eyJ0eXAi." + hex.EncodeToString(b[:])
		s.mu.Lock()
		s.tokens[tok] = s.opts.Now().Add(s.opts.TokenTTL)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": int(s.opts.TokenTTL / time.Second), "access_token": tok})
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

// undo records how to reverse one change, for changesets.
type undo struct {
	id   string
	prev Record // nil: the record did not exist
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

// checkBind validates an @odata.bind value against the entity set it must
// point to, and that the row exists.
func (s *Server) checkBind(w http.ResponseWriter, prop string, v any, want string) (string, bool) {
	str, _ := v.(string)
	m := bindRE.FindStringSubmatch(str)
	if m == nil || !guid.MatchString(m[2]) {
		dvErr(w, http.StatusBadRequest, "0x80048d19", "Error identified in Payload provided by the user for Entity :'phonecalls', Property: '%s@odata.bind': the value %q is not a valid entity reference.", prop, str)
		return "", false
	}
	if m[1] != want {
		dvErr(w, http.StatusBadRequest, "0x80048d19", "Error identified in Payload provided by the user for Entity :'phonecalls', Property: '%s@odata.bind': expected a reference to %s, got %s.", prop, want, m[1])
		return "", false
	}
	id := strings.ToLower(m[2])
	s.mu.Lock()
	_, exists := s.tables[want].rows[id]
	s.mu.Unlock()
	if !exists {
		dvErr(w, http.StatusNotFound, "0x80040217", "%s With Ids = %s Do Not Exist", strings.TrimSuffix(want, "s"), id)
		return "", false
	}
	return id, true
}

func (s *Server) createPhonecall(w http.ResponseWriter, h http.Header, body []byte, log *[]undo) {
	m, ok := jsonBody(w, h, body)
	if !ok {
		return
	}
	rec := Record{}
	for k, v := range m {
		if nav, isBind := strings.CutSuffix(k, "@odata.bind"); isBind {
			want, known := phonecallBinds[nav]
			if str, _ := v.(string); nav == "ownerid" && strings.HasPrefix(strings.TrimPrefix(str, "/"), "teams(") {
				want = "teams" // a team may own a record too
			}
			if !known {
				dvErr(w, http.StatusBadRequest, "0x80060888", "An undeclared property '%s' which only has property annotations in the payload but no property value was found in the payload.", nav)
				return
			}
			id, ok := s.checkBind(w, nav, v, want)
			if !ok {
				return
			}
			if nav == "ownerid" {
				rec["_ownerid_value"] = id
			} else {
				rec["_regardingobjectid_value"] = id
			}
			continue
		}
		switch k {
		case "statecode", "statuscode":
			dvErr(w, http.StatusBadRequest, "0x80040203", "%s cannot be set when a phonecall is created; update it afterwards.", k)
			return
		case "phonecall_activity_parties":
			if !s.checkParties(w, v) {
				return
			}
			rec[k] = v
			continue
		case "_ownerid_value", "_regardingobjectid_value", "modifiedon", "createdon":
			dvErr(w, http.StatusBadRequest, "0x80060888", "The property '%s' cannot be set; it is read-only.", k)
			return
		}
		if !s.pcAttrs[k] {
			dvErr(w, http.StatusBadRequest, "0x80060888", "Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.phonecall'.", k)
			return
		}
		if err := checkType(k, v); err != "" {
			dvErr(w, http.StatusBadRequest, "0x80048d19", "Error identified in Payload provided by the user for Entity :'phonecalls', Property: '%s': %s", k, err)
			return
		}
		rec[k] = v
	}
	id, _ := rec["activityid"].(string)
	if id == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		id = fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	}
	id = strings.ToLower(id)
	rec["activityid"] = id
	rec["statecode"] = json.Number("0")
	rec["statuscode"] = json.Number("1")
	now := s.opts.Now().UTC().Format(time.RFC3339)
	rec["createdon"], rec["modifiedon"] = now, now
	s.mu.Lock()
	if _, dup := s.phonecalls[id]; dup {
		s.mu.Unlock()
		dvErr(w, http.StatusPreconditionFailed, "0x80040237", "A record with matching key values already exists.")
		return
	}
	s.phonecalls[id] = rec
	s.pcOrder = append(s.pcOrder, id)
	if log != nil {
		*log = append(*log, undo{id: id})
	}
	s.mu.Unlock()
	w.Header().Set("OData-EntityId", "phonecalls("+id+")")
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) checkParties(w http.ResponseWriter, v any) bool {
	list, ok := v.([]any)
	if !ok {
		dvErr(w, http.StatusBadRequest, "0x80048d19", "phonecall_activity_parties: a collection is expected")
		return false
	}
	for i, p := range list {
		pm, ok := p.(map[string]any)
		if !ok {
			dvErr(w, http.StatusBadRequest, "0x80048d19", "phonecall_activity_parties[%d]: an object is expected", i)
			return false
		}
		binds := 0
		for k, pv := range pm {
			if nav, isBind := strings.CutSuffix(k, "@odata.bind"); isBind {
				want, known := partyBinds[nav]
				if !known {
					dvErr(w, http.StatusBadRequest, "0x80060888", "An undeclared property '%s' which only has property annotations in the payload but no property value was found in the payload.", nav)
					return false
				}
				if _, ok := s.checkBind(w, nav, pv, want); !ok {
					return false
				}
				binds++
				continue
			}
			switch k {
			case "participationtypemask":
				n, ok := pv.(json.Number)
				if v, err := n.Int64(); !ok || err != nil || v < 1 || v > 11 {
					dvErr(w, http.StatusBadRequest, "0x80048d19", "participationtypemask: %v is not a valid option", pv)
					return false
				}
			case "addressused":
				if _, ok := pv.(string); !ok {
					dvErr(w, http.StatusBadRequest, "0x80048d19", "addressused: a string is expected")
					return false
				}
			default:
				dvErr(w, http.StatusBadRequest, "0x80060888", "Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.activityparty'.", k)
				return false
			}
		}
		if _, ok := pm["participationtypemask"]; !ok {
			dvErr(w, http.StatusBadRequest, "0x80040203", "participationtypemask is required for an activity party")
			return false
		}
		if _, addr := pm["addressused"]; binds > 1 || (binds == 0 && !addr) {
			dvErr(w, http.StatusBadRequest, "0x80040203", "an activity party needs exactly one partyid or an addressused")
			return false
		}
	}
	return true
}

// checkType checks an attribute's JSON type and range.
func checkType(k string, v any) string {
	switch k {
	case "directioncode":
		if _, ok := v.(bool); !ok {
			return "a Boolean is expected"
		}
	case "actualdurationminutes":
		n, ok := v.(json.Number)
		i, err := n.Int64()
		if !ok || err != nil || i < 0 || i > 2147483647 {
			return "an Int32 of at least 0 is expected"
		}
	case "actualstart", "actualend", "scheduledstart", "scheduledend":
		str, ok := v.(string)
		if _, err := time.Parse(time.RFC3339, str); !ok || err != nil {
			return "an Edm.DateTimeOffset is expected"
		}
	case "subject":
		str, ok := v.(string)
		if !ok || len([]rune(str)) > 200 {
			return "a string of at most 200 characters is expected"
		}
	case "description":
		str, ok := v.(string)
		if !ok || len([]rune(str)) > 2000 {
			return "a string of at most 2000 characters is expected"
		}
	case "activityid":
		str, ok := v.(string)
		if !ok || !guid.MatchString(str) {
			return "a Guid is expected"
		}
	default:
		if _, ok := v.(string); !ok && v != nil {
			return "a string is expected"
		}
	}
	return ""
}

var validStatus = map[int64][]int64{0: {1}, 1: {2, 4}, 2: {3}}

func (s *Server) updatePhonecall(w http.ResponseWriter, id string, h http.Header, body []byte, log *[]undo) {
	m, ok := jsonBody(w, h, body)
	if !ok {
		return
	}
	s.mu.Lock()
	cur, exists := s.phonecalls[id]
	s.mu.Unlock()
	if !exists {
		if h.Get("If-Match") == "*" {
			dvErr(w, http.StatusNotFound, "0x80040217", "phonecall With Ids = %s Do Not Exist", id)
			return
		}
		// Without If-Match a PATCH is an upsert: it would create.
		if _, st := m["statecode"]; st {
			dvErr(w, http.StatusBadRequest, "0x80040203", "statecode cannot be set when a phonecall is created; update it afterwards.")
			return
		}
		m["activityid"] = id
		s.createPhonecall(w, http.Header{"Content-Type": {"application/json"}}, marshal(m), log)
		return
	}
	next := Record{}
	for k, v := range cur {
		next[k] = v
	}
	curState, _ := cur["statecode"].(json.Number).Int64()
	for k, v := range m {
		if !s.pcAttrs[k] || k == "activityid" || strings.HasPrefix(k, "_") || k == "modifiedon" || k == "createdon" {
			dvErr(w, http.StatusBadRequest, "0x80060888", "Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.phonecall' that can be updated.", k)
			return
		}
		if k != "statecode" && k != "statuscode" {
			if curState != 0 {
				dvErr(w, http.StatusBadRequest, "0x80043e09", "The phonecall is closed and cannot be edited; reopen it first.")
				return
			}
			if err := checkType(k, v); err != "" {
				dvErr(w, http.StatusBadRequest, "0x80048d19", "Property '%s': %s", k, err)
				return
			}
		}
		next[k] = v
	}
	state, err1 := asInt(next["statecode"])
	status, err2 := asInt(next["statuscode"])
	if err1 != nil || err2 != nil || !slices.Contains(validStatus[state], status) {
		dvErr(w, http.StatusBadRequest, "0x80040203", "%v is not a valid status code for state code %v on phonecall.", next["statuscode"], next["statecode"])
		return
	}
	if _, stateChange := m["statecode"]; stateChange && curState != 0 && state != 0 {
		dvErr(w, http.StatusBadRequest, "0x80043e09", "The phonecall is already closed; reopen it before setting another closed state.")
		return
	}
	next["modifiedon"] = s.opts.Now().UTC().Format(time.RFC3339)
	s.mu.Lock()
	s.phonecalls[id] = next
	if log != nil {
		*log = append(*log, undo{id: id, prev: cur})
	}
	if state != 0 {
		s.deactivateQueueItems(id) // a closed activity leaves its queues
	}
	s.mu.Unlock()
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(http.StatusNoContent)
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

func (s *Server) getPhonecall(w http.ResponseWriter, id string, q url.Values) {
	sel, ok := s.selectList(w, "phonecall", s.pcAttrs, q)
	if !ok {
		return
	}
	s.mu.Lock()
	rec, exists := s.phonecalls[id]
	s.mu.Unlock()
	if !exists {
		dvErr(w, http.StatusNotFound, "0x80040217", "phonecall With Ids = %s Do Not Exist", id)
		return
	}
	writeJSON(w, project(rec, sel))
}

func (s *Server) selectList(w http.ResponseWriter, entity string, attrs map[string]bool, q url.Values) ([]string, bool) {
	for k := range q {
		switch k {
		case "$select", "$filter", "$top", "$skiptoken":
		default:
			dvErr(w, http.StatusBadRequest, "0x80060888", "The query parameter '%s' is not supported by this service.", k)
			return nil, false
		}
	}
	var sel []string
	if v := q.Get("$select"); v != "" {
		sel = strings.Split(v, ",")
		for _, a := range sel {
			if !attrs[a] {
				dvErr(w, http.StatusBadRequest, "0x80060888", "Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'.", a, entity)
				return nil, false
			}
		}
	}
	return sel, true
}

func project(r Record, sel []string) Record {
	out := Record{"@odata.etag": `W/"1"`}
	if sel == nil {
		for k, v := range r {
			out[k] = v
		}
		return out
	}
	for _, a := range sel {
		out[a] = r[a]
	}
	return out
}

// cond is one comparison of a $filter: attr op value.
type cond struct {
	attr, op string
	val      any // string, time.Time or float64
}

// parseFilter reads the conjunctions callbridge sends: "a eq 'x' and b ge
// 2026-01-01T00:00:00Z and c eq <guid>". Anything else is refused.
func parseFilter(f string, attrs map[string]bool) ([]cond, error) {
	if f == "" {
		return nil, nil
	}
	var out []cond
	for _, part := range splitAnd(f) {
		fs := strings.SplitN(strings.TrimSpace(part), " ", 3)
		if len(fs) != 3 {
			return nil, fmt.Errorf("syntax error at %q", part)
		}
		c := cond{attr: fs[0], op: fs[1]}
		if !attrs[c.attr] {
			return nil, fmt.Errorf("Could not find a property named '%s'", c.attr)
		}
		switch c.op {
		case "eq", "ne", "gt", "ge", "lt", "le":
		default:
			return nil, fmt.Errorf("operator %q not supported", c.op)
		}
		v := fs[2]
		switch {
		case strings.HasPrefix(v, "'") && strings.HasSuffix(v, "'") && len(v) >= 2:
			c.val = strings.ReplaceAll(v[1:len(v)-1], "''", "'")
		case guid.MatchString(v):
			c.val = strings.ToLower(v)
		default:
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				c.val = t
			} else if n, err := strconv.ParseFloat(v, 64); err == nil {
				c.val = n
			} else {
				return nil, fmt.Errorf("syntax error: literal %q", v)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// splitAnd splits on " and " outside string literals.
func splitAnd(f string) []string {
	var out []string
	inStr := false
	start := 0
	for i := 0; i < len(f); i++ {
		if f[i] == '\'' {
			inStr = !inStr
		}
		if !inStr && strings.HasPrefix(f[i:], " and ") {
			out = append(out, f[start:i])
			start = i + 5
			i += 4
		}
	}
	return append(out, f[start:])
}

func (c cond) match(r Record) bool {
	v := r[c.attr]
	var d int
	switch want := c.val.(type) {
	case string:
		got := fmt.Sprint(v)
		if guid.MatchString(want) {
			got = strings.ToLower(got)
		}
		d = strings.Compare(got, want)
	case time.Time:
		str, _ := v.(string)
		t, err := time.Parse(time.RFC3339, str)
		if err != nil {
			return false
		}
		d = t.Compare(want)
	case float64:
		n, err := asInt(v)
		if err != nil {
			return false
		}
		switch {
		case float64(n) < want:
			d = -1
		case float64(n) > want:
			d = 1
		}
	}
	switch c.op {
	case "eq":
		return d == 0
	case "ne":
		return d != 0
	case "gt":
		return d > 0
	case "ge":
		return d >= 0
	case "lt":
		return d < 0
	default:
		return d <= 0
	}
}

func (s *Server) query(w http.ResponseWriter, set string, q url.Values, h http.Header, origin, path string) {
	var attrs map[string]bool
	entity := strings.TrimSuffix(set, "s")
	if set == "phonecalls" {
		attrs = s.pcAttrs
	} else {
		attrs = s.tables[set].attrs
	}
	sel, ok := s.selectList(w, entity, attrs, q)
	if !ok {
		return
	}
	conds, err := parseFilter(q.Get("$filter"), attrs)
	if err != nil {
		dvErr(w, http.StatusBadRequest, "0x80060888", "Invalid $filter: %v", err)
		return
	}
	page := s.opts.MaxPageSize
	for _, p := range strings.Split(h.Get("Prefer"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "odata.maxpagesize="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				page = min(n, s.opts.MaxPageSize)
			}
		}
	}
	top := -1
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			dvErr(w, http.StatusBadRequest, "0x80060888", "Invalid $top %q", v)
			return
		}
		top = n
	}
	skip := 0
	if v := q.Get("$skiptoken"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			dvErr(w, http.StatusBadRequest, "0x80060888", "Invalid $skiptoken")
			return
		}
		skip = n
	}
	s.mu.Lock()
	var order []string
	var rows map[string]Record
	if set == "phonecalls" {
		order, rows = s.pcOrder, s.phonecalls
	} else {
		order, rows = s.tables[set].order, s.tables[set].rows
	}
	var out []Record
	next := -1
	matched := 0
	for i := skip; i < len(order); i++ {
		r := rows[order[i]]
		ok := true
		for _, c := range conds {
			if !c.match(r) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if top >= 0 && matched >= top {
			break
		}
		if len(out) == page {
			next = i
			break
		}
		matched++
		out = append(out, annotate(project(r, sel), r, h))
	}
	s.mu.Unlock()
	resp := map[string]any{"@odata.context": origin + APIPath + "$metadata#" + set, "value": out}
	if out == nil {
		resp["value"] = []Record{}
	}
	if next >= 0 {
		nq := url.Values{}
		for k, v := range q {
			if k != "$skiptoken" {
				nq[k] = v
			}
		}
		nq.Set("$skiptoken", strconv.Itoa(next))
		resp["@odata.nextLink"] = origin + APIPath + strings.SplitN(path, "?", 2)[0] + "?" + strings.ReplaceAll(nq.Encode(), "+", "%20")
	}
	writeJSON(w, resp)
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

// writeHTTP writes rec as an embedded HTTP answer.
func (r *recorder) writeHTTP(w io.Writer, contentID string) {
	if r.status == 0 {
		r.status = 200
	}
	if contentID != "" {
		fmt.Fprintf(w, "Content-ID: %s\r\n", contentID)
	}
	fmt.Fprintf(w, "\r\nHTTP/1.1 %d %s\r\n", r.status, http.StatusText(r.status))
	for k, v := range r.header {
		for _, x := range v {
			fmt.Fprintf(w, "%s: %s\r\n", k, x)
		}
	}
	fmt.Fprintf(w, "\r\n%s", r.body.Bytes())
}

// batch executes a $batch: changesets atomically, in order; without
// Prefer: odata.continue-on-error it stops at the first failure.
func (s *Server) batch(w http.ResponseWriter, r *http.Request, body []byte) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		dvErr(w, http.StatusBadRequest, "0x80048d19", "$batch: Content-Type must be multipart/mixed with a boundary")
		return
	}
	cont := strings.Contains(r.Header.Get("Prefer"), "odata.continue-on-error")
	origin := "http://" + r.Host
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out bytes.Buffer
	ob := "batchresponse_" + randHex()
	failed := false
	n := 0
	for !failed || cont {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			dvErr(w, http.StatusBadRequest, "0x80048d19", "$batch: malformed multipart: %v", err)
			return
		}
		if n++; n > 1000 {
			dvErr(w, http.StatusBadRequest, "0x80048d19", "The maximum number of requests in a batch is 1000.")
			return
		}
		pt, pp, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		fmt.Fprintf(&out, "--%s\r\n", ob)
		switch pt {
		case "multipart/mixed":
			var log []undo
			var oks []*recorder
			var ids []string
			var bad *recorder
			cr := multipart.NewReader(part, pp["boundary"])
			for {
				ip, err := cr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					dvErr(w, http.StatusBadRequest, "0x80048d19", "$batch: malformed changeset: %v", err)
					return
				}
				rec := s.inner(ip, origin, &log)
				if rec.status >= 300 {
					bad = rec
					break
				}
				oks = append(oks, rec)
				ids = append(ids, ip.Header.Get("Content-ID"))
			}
			if bad != nil {
				s.rollback(log)
				failed = true
				out.WriteString("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n")
				bad.writeHTTP(&out, "")
				out.WriteString("\r\n")
				continue
			}
			cb := "changesetresponse_" + randHex()
			fmt.Fprintf(&out, "Content-Type: multipart/mixed; boundary=%s\r\n\r\n", cb)
			for i, rec := range oks {
				fmt.Fprintf(&out, "--%s\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n", cb)
				rec.writeHTTP(&out, ids[i])
				out.WriteString("\r\n")
			}
			fmt.Fprintf(&out, "--%s--\r\n", cb)
		case "application/http":
			rec := s.inner(part, origin, nil)
			if rec.status >= 300 {
				failed = true
			}
			out.WriteString("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n")
			rec.writeHTTP(&out, "")
			out.WriteString("\r\n")
		default:
			dvErr(w, http.StatusBadRequest, "0x80048d19", "$batch: unexpected part type %q", pt)
			return
		}
	}
	fmt.Fprintf(&out, "--%s--\r\n", ob)
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+ob)
	w.Header().Set("OData-Version", "4.0")
	_, _ = w.Write(out.Bytes())
}

func (s *Server) inner(part io.Reader, origin string, log *[]undo) *recorder {
	rec := newRecorder()
	// An embedded request runs to the boundary; it has no Content-Length.
	raw, err := io.ReadAll(io.LimitReader(part, 4<<20))
	head, body, found := bytes.Cut(raw, []byte("\r\n\r\n"))
	if err != nil || !found {
		dvErr(rec, http.StatusBadRequest, "0x80048d19", "$batch: malformed request part")
		return rec
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(append(head, "\r\n\r\n"...))))
	if err != nil {
		dvErr(rec, http.StatusBadRequest, "0x80048d19", "$batch: malformed request: %v", err)
		return rec
	}
	body = bytes.TrimRight(body, "\r\n")
	path, ok := strings.CutPrefix(req.URL.Path, APIPath)
	if !ok {
		dvErr(rec, http.StatusBadRequest, "0x80048d19", "$batch: request URL %q outside the service", req.URL.Path)
		return rec
	}
	s.route(rec, req.Method, path, req.URL.Query(), req.Header, body, origin, log)
	return rec
}

func (s *Server) rollback(log []undo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(log) - 1; i >= 0; i-- {
		u := log[i]
		if u.prev == nil {
			delete(s.phonecalls, u.id)
			if k := slices.Index(s.pcOrder, u.id); k >= 0 {
				s.pcOrder = slices.Delete(s.pcOrder, k, k+1)
			}
		} else {
			s.phonecalls[u.id] = u.prev
		}
	}
}

func randHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
