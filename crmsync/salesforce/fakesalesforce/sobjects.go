package fakesalesforce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// taskFields are the standard Task fields callbridge may touch and a few
// more, with their types (Object Reference for the Salesforce Platform,
// "Task"): picklist values are the defaults of a new org, and every one of
// these picklists is restricted.
var taskFields = map[string]string{
	"Id":                    "readonly",
	"Subject":               "string:255",
	"Status":                "picklist:Not Started|In Progress|Completed|Waiting on someone else|Deferred",
	"Priority":              "picklist:High|Normal|Low",
	"TaskSubtype":           "picklist:Task|Email|ListEmail|Cadence|Call|LinkedIn",
	"CallType":              "picklist:Internal|Inbound|Outbound",
	"CallDurationInSeconds": "int",
	"CallObject":            "string:255",
	"CallDisposition":       "string:255",
	"ActivityDate":          "date",
	"Description":           "string:32000",
	"WhoId":                 "ref:Contact|Lead",
	"WhatId":                "ref:Account",
	"OwnerId":               "ref:User",
	"IsClosed":              "readonly",
	"CreatedDate":           "readonly",
	"SystemModstamp":        "readonly",
}

// An id is 15 or 18 alphanumerics; anything else in an id field is
// MALFORMED_ID.
var idRE = regexp.MustCompile(`^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$`)

var prefixOf = map[string]string{"Contact": "003", "Lead": "00Q", "Account": "001", "User": "005"}

// apiErr is one refusal.
type apiErr struct {
	status int
	code   string
	msg    string
	fields []string
}

func (e *apiErr) write(w http.ResponseWriter) { sfErr(w, e.status, e.code, e.msg, e.fields...) }

func bad(code, msg string, fields ...string) *apiErr {
	return &apiErr{status: http.StatusBadRequest, code: code, msg: msg, fields: fields}
}

// fieldType is a Task field's type, custom fields included.
func (s *Server) fieldType(name string) string {
	t := s.objects["Task"].fields[name]
	switch t {
	case "string", "externalid":
		return "string:255"
	}
	return t
}

func (s *Server) isExternalID(name string) bool {
	return s.objects["Task"].fields[name] == "externalid"
}

// checkTask validates a Task body and returns the fields to store. JSON
// null for a field is ignored, as the REST API ignores it on create.
func (s *Server) checkTask(m map[string]any) (Record, *apiErr) {
	rec := Record{}
	for k, v := range m {
		if k == "attributes" || v == nil {
			continue
		}
		t := s.fieldType(k)
		switch {
		case t == "":
			// Unknown fields are refused, never dropped ("No such column
			// 'X' on sobject of type Task", INVALID_FIELD).
			return nil, bad("INVALID_FIELD", fmt.Sprintf("No such column '%s' on sobject of type Task", k))
		case t == "readonly":
			return nil, bad("INVALID_FIELD_FOR_INSERT_UPDATE", fmt.Sprintf("Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", k), k)
		}
		if e := s.checkValue(k, t, v); e != nil {
			return nil, e
		}
		rec[k] = v
	}
	// A lead cannot be named together with a related-to record (Task,
	// WhatId: "If the WhoId refers to a lead, the WhatId field must be
	// empty").
	if who, _ := rec["WhoId"].(string); strings.HasPrefix(who, "00Q") && rec["WhatId"] != nil {
		return nil, bad("FIELD_INTEGRITY_EXCEPTION", "Related To ID: a Task for a lead cannot be related to another record", "WhatId")
	}
	if _, ok := rec["Status"]; !ok {
		rec["Status"] = "Not Started" // the picklists' defaults
	}
	if _, ok := rec["Priority"]; !ok {
		rec["Priority"] = "Normal"
	}
	return rec, nil
}

// checkValue applies a field's type. A wrong JSON type is a
// JSON_PARSER_ERROR, as Salesforce's deserializer reports it.
func (s *Server) checkValue(k, t string, v any) *apiErr {
	kind, arg, _ := strings.Cut(t, ":")
	parseErr := func(want string) *apiErr {
		return bad("JSON_PARSER_ERROR", fmt.Sprintf("Cannot deserialize instance of %s from %T value for field %s", want, v, k))
	}
	switch kind {
	case "string":
		str, ok := v.(string)
		if !ok {
			return parseErr("string")
		}
		var max int
		fmt.Sscan(arg, &max)
		if utf8.RuneCountInString(str) > max {
			return bad("STRING_TOO_LONG", fmt.Sprintf("%s: data value too large: %.20s… (max length=%d)", k, str, max), k)
		}
	case "picklist":
		str, ok := v.(string)
		if !ok {
			return parseErr("picklist")
		}
		if !slices.Contains(strings.Split(arg, "|"), str) {
			return bad("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", fmt.Sprintf("%s: bad value for restricted picklist field: %s", k, str), k)
		}
	case "int":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			return parseErr("int")
		}
	case "date":
		str, ok := v.(string)
		if !ok {
			return parseErr("date")
		}
		if _, err := time.Parse(time.DateOnly, str); err != nil {
			return bad("JSON_PARSER_ERROR", fmt.Sprintf("Cannot deserialize value of type `java.util.Date` from String \"%s\": expected format \"yyyy-MM-dd\"", str))
		}
	case "ref":
		str, ok := v.(string)
		if !ok {
			return parseErr("id")
		}
		return s.checkRef(k, str, strings.Split(arg, "|"))
	}
	return nil
}

// checkRef checks an id field: the id's form (MALFORMED_ID), its object
// (FIELD_INTEGRITY_EXCEPTION), that it exists (INVALID_CROSS_REFERENCE_KEY)
// and, for an owner, that the user is active (INACTIVE_OWNER_OR_USER).
func (s *Server) checkRef(k, id string, objs []string) *apiErr {
	if !idRE.MatchString(id) {
		return bad("MALFORMED_ID", fmt.Sprintf("%s: id value of incorrect type: %s", k, id), k)
	}
	for _, o := range objs {
		if !strings.HasPrefix(id, prefixOf[o]) {
			continue
		}
		s.mu.Lock()
		r, ok := s.objects[o].rows[id]
		s.mu.Unlock()
		switch {
		case !ok:
			return bad("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", k)
		case o == "User" && r["IsActive"] != true:
			return bad("INACTIVE_OWNER_OR_USER", fmt.Sprintf("operation performed with inactive user [%s] as owner of task", id))
		}
		return nil
	}
	return bad("FIELD_INTEGRITY_EXCEPTION", fmt.Sprintf("%s: id value of incorrect type: %s", k, id), k)
}

// readBody decodes a JSON object body, numbers kept exact.
func readBody(r *http.Request) (map[string]any, *apiErr) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return nil, &apiErr{status: http.StatusUnsupportedMediaType, code: "UNSUPPORTED_MEDIA_TYPE", msg: "Content-Type must be application/json"}
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 50<<20))
	if err != nil {
		return nil, bad("JSON_PARSER_ERROR", "unreadable body")
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, bad("JSON_PARSER_ERROR", "Unexpected character: "+err.Error())
	}
	return m, nil
}

// insert stores a checked Task, refusing a duplicate external id
// (DUPLICATE_VALUE: External ID fields here are unique).
func (s *Server) insert(rec Record) (string, *apiErr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.objects["Task"]
	for f, t := range o.fields {
		v, ok := rec[f].(string)
		if t != "externalid" || !ok {
			continue
		}
		for id, row := range o.rows {
			if other, _ := row[f].(string); strings.EqualFold(other, v) {
				return "", bad("DUPLICATE_VALUE", fmt.Sprintf("duplicate value found: %s duplicates value on record with id: %s", f, id), f)
			}
		}
	}
	id := newID(o.prefix)
	now := sfTime(s.opts.Now())
	rec["Id"], rec["CreatedDate"], rec["SystemModstamp"] = id, now, now
	rec["IsClosed"] = rec["Status"] == "Completed"
	o.rows[id] = rec
	o.order = append(o.order, id)
	return id, nil
}

// createTask is POST /sobjects/Task: 201 with the SaveResult.
func (s *Server) createTask(w http.ResponseWriter, r *http.Request) {
	m, e := readBody(r)
	if e == nil {
		var rec Record
		if rec, e = s.checkTask(m); e == nil {
			var id string
			if id, e = s.insert(rec); e == nil {
				writeJSON(w, http.StatusCreated, map[string]any{"id": id, "success": true, "errors": []any{}})
				return
			}
		}
	}
	e.write(w)
}

// findByExternal returns the ids of Tasks whose field equals value,
// ignoring case (External IDs are case-insensitive unless marked
// otherwise).
func (s *Server) findByExternal(field, value string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range s.objects["Task"].order {
		row, ok := s.objects["Task"].rows[id]
		if v, _ := row[field].(string); ok && strings.EqualFold(v, value) {
			out = append(out, id)
		}
	}
	return out
}

// upsert writes rec keyed by field = value ("Insert or Update (Upsert) a
// Record Using an External ID"): created (201, created true), or the one
// match updated (200, created false); several matches are 300.
func (s *Server) upsert(field, value string, rec Record) (status int, res map[string]any, e *apiErr) {
	if !s.isExternalID(field) {
		return 0, nil, &apiErr{status: http.StatusNotFound, code: "NOT_FOUND", msg: "Provided external ID field does not exist or is not accessible: " + field}
	}
	if v, ok := rec[field].(string); ok && !strings.EqualFold(v, value) {
		return 0, nil, bad("INVALID_FIELD", "the external ID in the body does not match the one in the URL", field)
	}
	rec[field] = value
	ids := s.findByExternal(field, value)
	switch len(ids) {
	case 0:
		id, e := s.insert(rec)
		if e != nil {
			return 0, nil, e
		}
		return http.StatusCreated, map[string]any{"id": id, "success": true, "errors": []any{}, "created": true}, nil
	case 1:
		s.mu.Lock()
		row := s.objects["Task"].rows[ids[0]]
		for k, v := range rec {
			if k != "TaskSubtype" { // create-only
				row[k] = v
			}
		}
		row["SystemModstamp"] = sfTime(s.opts.Now())
		row["IsClosed"] = row["Status"] == "Completed"
		s.mu.Unlock()
		return http.StatusOK, map[string]any{"id": ids[0], "success": true, "errors": []any{}, "created": false}, nil
	}
	return http.StatusMultipleChoices, nil, &apiErr{status: http.StatusMultipleChoices, code: "MULTIPLE_CHOICES", msg: "more than one record matches " + value}
}

func (s *Server) upsertTask(w http.ResponseWriter, r *http.Request, field, value string) {
	if value == "" || strings.Contains(value, "/") {
		sfErr(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	m, e := readBody(r)
	if e != nil {
		e.write(w)
		return
	}
	rec, e := s.checkTask(m)
	if e != nil {
		e.write(w)
		return
	}
	status, res, e := s.upsert(field, value, rec)
	if e != nil {
		e.write(w)
		return
	}
	writeJSON(w, status, res)
}
