package fakesalesforce

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callbridge/callbridge/crmsync/internal/fakehttp"
)

// Options configure the fake.
type Options struct {
	// ClientID and ClientSecret are what the token endpoint accepts for
	// the client credentials flow.
	ClientID, ClientSecret string
	// PublicKey verifies JWT bearer assertions; Audience is the aud they
	// must carry (default https://login.salesforce.com).
	PublicKey *rsa.PublicKey
	Audience  string
	// SessionTimeout is a token's life (Setup > Session Settings; the
	// default is 2 hours). Salesforce does not tell the client.
	SessionTimeout time.Duration
	// RequestLimit API requests per RequestWindow (rolling), then 403
	// REQUEST_LIMIT_EXCEEDED. 0: unlimited. Salesforce counts a rolling
	// 24 hours; Enterprise Edition allows 100,000 plus 1,000 per licence.
	RequestLimit  int
	RequestWindow time.Duration
	// TaskFields are the org's custom Task fields (API name -> type:
	// "string" or "externalid", a unique case-insensitive External ID).
	TaskFields map[string]string
	// QueryBatch is how many records a query page holds (default 2,000,
	// the REST API's default batch size).
	QueryBatch int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Record is a row of an object: field API name -> value.
type Record map[string]any

type object struct {
	name   string
	prefix string // key prefix of its ids
	fields map[string]string
	rows   map[string]Record
	order  []string
}

// Server is the fake. Use it as an http.Handler.
type Server struct {
	opts  Options
	loser *fakehttp.Loser

	mu       sync.Mutex
	tokens   map[string]time.Time // token -> expiry
	window   fakehttp.Window
	objects  map[string]*object
	cursors  map[string][]Record
	requests int
	limited  int
	tokensN  int
}

// APIVersions are the versions the fake answers, as /services/data lists
// them for a current org.
var apiVersion = regexp.MustCompile(`^/services/data/v(\d\d)\.0/`)

// New returns a fake with empty objects.
func New(opts Options) *Server {
	if opts.SessionTimeout == 0 {
		opts.SessionTimeout = 2 * time.Hour
	}
	if opts.QueryBatch == 0 {
		opts.QueryBatch = 2000
	}
	if opts.Audience == "" {
		opts.Audience = "https://login.salesforce.com"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts: opts, tokens: map[string]time.Time{}, objects: map[string]*object{}, cursors: map[string][]Record{},
		window: fakehttp.Window{Limit: opts.RequestLimit, Span: opts.RequestWindow},
	}
	s.loser = &fakehttp.Loser{Handler: http.HandlerFunc(s.serve)}
	task := map[string]string{}
	for k, v := range taskFields {
		task[k] = v
	}
	for k, v := range opts.TaskFields {
		task[k] = v
	}
	s.add("Task", "00T", task)
	s.add("User", "005", map[string]string{"Id": "id", "Email": "string", "Name": "string", "IsActive": "boolean", "UserType": "string", "Username": "string"})
	s.add("Contact", "003", map[string]string{"Id": "id", "Name": "string", "FirstName": "string", "LastName": "string",
		"Phone": "string", "MobilePhone": "string", "HomePhone": "string", "OtherPhone": "string", "AssistantPhone": "string",
		"Email": "string", "AccountId": "id", "SystemModstamp": "datetime"})
	s.add("Lead", "00Q", map[string]string{"Id": "id", "Name": "string", "FirstName": "string", "LastName": "string", "Company": "string",
		"Phone": "string", "MobilePhone": "string", "IsConverted": "boolean", "SystemModstamp": "datetime"})
	s.add("Account", "001", map[string]string{"Id": "id", "Name": "string", "Phone": "string", "SystemModstamp": "datetime"})
	return s
}

func (s *Server) add(name, prefix string, fields map[string]string) {
	s.objects[name] = &object{name: name, prefix: prefix, fields: fields, rows: map[string]Record{}}
}

// newID makes an 18-character id with the object's key prefix.
func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + strings.ToUpper(hex.EncodeToString(b[:]))[:15]
}

func (s *Server) put(obj string, r Record) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.objects[obj]
	id, _ := r["Id"].(string)
	if id == "" {
		id = newID(o.prefix)
		r["Id"] = id
	}
	if _, ok := r["SystemModstamp"]; !ok && o.fields["SystemModstamp"] != "" {
		r["SystemModstamp"] = sfTime(s.opts.Now())
	}
	if _, ok := o.rows[id]; !ok {
		o.order = append(o.order, id)
	}
	o.rows[id] = r
	return id
}

// AddUser adds a user and returns its id.
func (s *Server) AddUser(email, name string, active bool) string {
	return s.put("User", Record{"Email": email, "Name": name, "IsActive": active, "UserType": "Standard", "Username": email})
}

// AddRecord adds or replaces a Contact, Lead or Account (Name is made of
// FirstName and LastName for people when not given) and returns its id.
func (s *Server) AddRecord(obj string, r Record) string {
	if _, ok := r["Name"]; !ok {
		r["Name"] = strings.TrimSpace(fmt.Sprint(r["FirstName"]) + " " + fmt.Sprint(r["LastName"]))
	}
	return s.put(obj, r)
}

// Delete removes a record, as emptying the recycle bin would.
func (s *Server) Delete(obj, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects[obj].rows, id)
}

// Tasks returns every Task.
func (s *Server) Tasks() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, id := range s.objects["Task"].order {
		if r, ok := s.objects["Task"].rows[id]; ok {
			out = append(out, r)
		}
	}
	return out
}

// Count is how many Tasks carry CallObject id.
func (s *Server) Count(id string) int {
	n := 0
	for _, t := range s.Tasks() {
		if strings.EqualFold(fmt.Sprint(t["CallObject"]), id) {
			n++
		}
	}
	return n
}

// Task returns the Task with CallObject id.
func (s *Server) Task(id string) (Record, bool) {
	for _, t := range s.Tasks() {
		if strings.EqualFold(fmt.Sprint(t["CallObject"]), id) {
			return t, true
		}
	}
	return nil, false
}

// Stats reports API requests, of which refused for the limit, and token
// requests.
func (s *Server) Stats() (requests, limited, tokens int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.limited, s.tokensN
}

// ExpireTokens ends every session, as the session timeout would.
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

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/services/oauth2/token":
		s.token(w, r)
	case strings.HasPrefix(r.URL.Path, "/services/data/"):
		s.api(w, r)
	default:
		sfErr(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	}
}

// sfErr writes the REST API's error shape, a JSON array (REST API
// Developer Guide, "Status Codes and Error Responses").
func sfErr(w http.ResponseWriter, status int, code, msg string, fields ...string) {
	if fields == nil {
		fields = []string{}
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode([]map[string]any{{"message": msg, "errorCode": code, "fields": fields}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// api authenticates, counts the request against the allowance and routes.
func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	// A session id in Authorization: Bearer; anything else, or an expired
	// one, is INVALID_SESSION_ID with 401 ("Status Codes and Error
	// Responses": 401, "The session ID or OAuth token used has expired or
	// is invalid").
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	now := s.opts.Now()
	s.mu.Lock()
	s.requests++
	exp, known := s.tokens[tok]
	s.mu.Unlock()
	if !ok || !known || !now.Before(exp) {
		w.Header().Set("WWW-Authenticate", "Token")
		sfErr(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
		return
	}
	// The org's API request allowance: 403 with REQUEST_LIMIT_EXCEEDED
	// ("If the error code is REQUEST_LIMIT_EXCEEDED, you've exceeded API
	// request limits in your org"; the message is "TotalRequests Limit
	// exceeded."). Every answer carries Sforce-Limit-Info.
	s.mu.Lock()
	admitted, _, used := s.window.Admit(now)
	if !admitted {
		s.limited++
	}
	s.mu.Unlock()
	w.Header().Set("Sforce-Limit-Info", "api-usage="+strconv.Itoa(used)+"/"+strconv.Itoa(s.opts.RequestLimit))
	if !admitted {
		sfErr(w, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
		return
	}
	m := apiVersion.FindStringSubmatch(r.URL.Path)
	if m == nil || m[1] < "31" || m[1] > "64" {
		sfErr(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, m[0])
	switch {
	case rest == "sobjects/Task" && r.Method == http.MethodPost:
		s.createTask(w, r)
	case strings.HasPrefix(rest, "sobjects/Task/") && r.Method == http.MethodPatch:
		field, value, _ := strings.Cut(strings.TrimPrefix(rest, "sobjects/Task/"), "/")
		s.upsertTask(w, r, field, value)
	case rest == "query" && r.Method == http.MethodGet:
		s.query(w, r, m[0])
	case strings.HasPrefix(rest, "query/") && r.Method == http.MethodGet:
		s.queryMore(w, strings.TrimPrefix(rest, "query/"), m[0])
	case rest == "composite/sobjects" && r.Method == http.MethodPost:
		s.collection(w, r, "")
	case strings.HasPrefix(rest, "composite/sobjects/Task/") && r.Method == http.MethodPatch:
		s.collection(w, r, strings.TrimPrefix(rest, "composite/sobjects/Task/"))
	default:
		sfErr(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	}
}

// sfTime writes a dateTime as the REST API does.
func sfTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000+0000") }
