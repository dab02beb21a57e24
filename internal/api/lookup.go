package api

import (
	"net/http"
	"time"
)

// Lookup finds the CRM records that hold a number, from memory (the phone
// indexes), never with a CRM round-trip in the call path.
type Lookup interface {
	Lookup(number string) LookupResult
}

// LookupResult is what GET /api/lookup answers.
type LookupResult struct {
	Number     string   `json:"number"`
	Found      bool     `json:"found"`
	Connector  string   `json:"connector,omitempty"`
	Best       *Record  `json:"best,omitempty"`
	Candidates []Record `json:"candidates,omitempty"`
}

// Record is one CRM record holding the number.
type Record struct {
	Entity    string    `json:"entity"`
	EntitySet string    `json:"entity_set"`
	ID        string    `json:"id"`
	Name      string    `json:"name,omitempty"`
	Kind      string    `json:"type"` // person, organisation
	Modified  time.Time `json:"modified"`
	// Exact is true for an E.164 match, false for a last-digits match.
	Exact bool `json:"exact"`
	// Owner is the record's owner in the CRM; Fields the entity's kept
	// fields (recognition.entities[].fields); URL the record's page in
	// the CRM, when the connector has one.
	Owner  string            `json:"owner,omitempty"`
	Fields map[string]string `json:"fields,omitempty"`
	URL    string            `json:"url,omitempty"`
}

func find(l Lookup, number string) LookupResult {
	if l == nil {
		return LookupResult{Number: number}
	}
	return l.Lookup(number)
}

// GET /api/lookup?number=+358401234567: every candidate, best first.
func lookup(l Lookup) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := number(queryGet(r.URL, "number"))
		if n == "" {
			http.Error(w, "number: required", http.StatusBadRequest)
			return
		}
		res := find(l, n)
		writeLookup(w, &res)
	}
}

// GET /api/callername?number=…: the best match's name as plain text, empty
// when unknown, for Set(CALLERID(name)=${CURL(…)}).
func callerName(l Lookup) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if res := find(l, number(queryGet(r.URL, "number"))); res.Found && res.Best != nil {
			w.Write([]byte(res.Best.Name))
		}
	}
}
