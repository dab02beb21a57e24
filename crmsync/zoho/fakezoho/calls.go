package fakezoho

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// callFields are the Calls module's standard fields callbridge may touch
// and a few more (Calls module field reference): Subject, Call_Type and
// Call_Start_Time are mandatory; Call_Type and Call_Result are picklists;
// Who_Id is a contact, What_Id a record of the module named by $se_module.
var callFields = map[string]string{
	"Subject":         "text",
	"Call_Type":       "picklist:Outbound|Inbound|Missed",
	"Call_Start_Time": "datetime",
	"Call_Duration":   "duration",
	"Call_Purpose":    "picklist:Prospecting|Administrative|Negotiation|Demo|Project|Desk",
	"Call_Result":     "picklist:Interested|Not interested|No response/Busy|Requested more info|Requested call back|Invalid number",
	"Description":     "textarea",
	"Caller_ID":       "phone",
	"Dialled_Number":  "phone",
	"Owner":           "owner",
	"Who_Id":          "lookup:Contacts",
	"What_Id":         "whatid",
	"$se_module":      "semodule",
}

var mandatory = []string{"Subject", "Call_Type", "Call_Start_Time"}

// Formats (Field data types): date-time is yyyy-MM-ddTHH:mm:ss±HH:mm, a
// call's duration minutes:seconds.
var (
	datetimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$`)
	durationRE = regexp.MustCompile(`^\d{1,4}:[0-5]\d$`)
	idRE       = regexp.MustCompile(`^\d{6,25}$`)
)

// Lengths: single-line text 255, multi-line 32,000, phone 30.
var maxLen = map[string]int{"text": 255, "textarea": 32000, "phone": 30}

type recErr struct {
	code, msg string
	details   map[string]any
}

func (e *recErr) json() map[string]any {
	return map[string]any{"code": e.code, "details": e.details, "message": e.msg, "status": "error"}
}

func invalid(field, expected string, i int) *recErr {
	return &recErr{"INVALID_DATA", "invalid data", map[string]any{"api_name": field, "expected_data_type": expected, "json_path": "$.data[" + itoa(i) + "]." + field}}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// check validates one record; values of fields the module does not have
// are dropped, as Zoho drops them. Caller holds mu.
func (s *Server) check(i int, in map[string]any) (map[string]any, *recErr) {
	m := s.modules["Calls"]
	out := map[string]any{}
	for k, v := range in {
		typ, known := m.fields[k]
		if !known || v == nil {
			continue // dropped without a word
		}
		kind, arg, _ := strings.Cut(typ, ":")
		str, isStr := v.(string)
		switch kind {
		case "text", "textarea", "phone":
			if !isStr {
				return nil, invalid(k, "text", i)
			}
			if utf8.RuneCountInString(str) > maxLen[kind] {
				return nil, &recErr{"INVALID_DATA", "invalid data", map[string]any{"api_name": k, "maximum_length": maxLen[kind]}}
			}
		case "picklist":
			if !isStr || !slices.Contains(strings.Split(arg, "|"), str) {
				return nil, invalid(k, "picklist", i)
			}
		case "datetime":
			if !isStr || !datetimeRE.MatchString(str) {
				return nil, invalid(k, "datetime", i)
			}
			if _, err := time.Parse(time.RFC3339, str); err != nil {
				return nil, invalid(k, "datetime", i)
			}
		case "duration":
			if !isStr || !durationRE.MatchString(str) {
				return nil, invalid(k, "text", i)
			}
		case "owner", "lookup", "whatid":
			obj, ok := v.(map[string]any)
			id, _ := obj["id"].(string)
			if !ok || !idRE.MatchString(id) {
				return nil, invalid(k, "lookup", i)
			}
			switch kind {
			case "owner":
				if !s.activeUser(id) {
					return nil, &recErr{"INVALID_DATA", "invalid owner", map[string]any{"api_name": k}}
				}
			case "lookup":
				if s.modules[arg].byID[id] == nil {
					return nil, &recErr{"INVALID_DATA", "the related id given seems to be invalid", map[string]any{"api_name": k, "id": id}}
				}
			}
		case "semodule":
			if !isStr || (str != "Accounts" && str != "Leads" && str != "Deals") {
				return nil, invalid(k, "text", i)
			}
		}
		out[k] = v
	}
	for _, f := range mandatory {
		if _, ok := out[f]; !ok {
			return nil, &recErr{"MANDATORY_NOT_FOUND", "required field not found", map[string]any{"api_name": f, "json_path": "$.data[" + itoa(i) + "]." + f}}
		}
	}
	// What_Id names a record of the module in $se_module; one without
	// the other is refused.
	if what, ok := out["What_Id"].(map[string]any); ok {
		mod, _ := out["$se_module"].(string)
		if mod == "" {
			return nil, &recErr{"MANDATORY_NOT_FOUND", "required field not found", map[string]any{"api_name": "$se_module"}}
		}
		if mm := s.modules[mod]; mm == nil || mm.byID[what["id"].(string)] == nil {
			return nil, &recErr{"INVALID_DATA", "the related id given seems to be invalid", map[string]any{"api_name": "What_Id"}}
		}
	}
	if s.opts.UniqueMarker {
		if v, ok := out["Callbridge_Activity_Id"].(string); ok {
			for _, r := range m.rows {
				if r.fields["Callbridge_Activity_Id"] == v {
					return nil, &recErr{"DUPLICATE_DATA", "duplicate data", map[string]any{"api_name": "Callbridge_Activity_Id",
						"duplicate_record": map[string]any{"id": r.id, "module": map[string]any{"api_name": "Calls"}}}}
				}
			}
		}
	}
	return out, nil
}

func (s *Server) activeUser(id string) bool {
	for _, u := range s.users {
		if u.ID == id {
			return u.Status == "active"
		}
	}
	return false
}

// maxInsert is an insert's record limit (Insert Records: up to 100).
const maxInsert = 100

// insertCalls is POST /Calls: a result per record, in order; 201 when
// all were added, 207 when some were, 400 when none.
func (s *Server) insertCalls(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 20<<20))
	var body struct {
		Data []map[string]any `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&body); err != nil {
		zErr(w, http.StatusBadRequest, "INVALID_DATA", "body is not a valid JSON", nil)
		return
	}
	switch {
	case len(body.Data) == 0:
		zErr(w, http.StatusBadRequest, "MANDATORY_NOT_FOUND", "required field not found", map[string]any{"api_name": "data"})
		return
	case len(body.Data) > maxInsert:
		zErr(w, http.StatusBadRequest, "LIMIT_EXCEEDED", "the number of records exceeds the limit", map[string]any{"limit": maxInsert})
		return
	}
	s.mu.Lock()
	results := make([]map[string]any, len(body.Data))
	ok := 0
	for i, in := range body.Data {
		fields, e := s.check(i, in)
		if e != nil {
			results[i] = e.json()
			continue
		}
		rec := s.insert("Calls", fields)
		ok++
		results[i] = map[string]any{"code": "SUCCESS", "message": "record added", "status": "success",
			"details": map[string]any{"id": rec.id, "Modified_Time": zTime(rec.modified), "Created_Time": zTime(rec.modified)}}
	}
	s.mu.Unlock()
	status := http.StatusCreated
	switch {
	case ok == 0:
		status = http.StatusBadRequest
	case ok < len(body.Data):
		status = http.StatusMultiStatus
	}
	writeJSON(w, status, map[string]any{"data": results})
}

// callFieldsMeta is GET /settings/fields?module=Calls.
func (s *Server) callFieldsMeta(w http.ResponseWriter) {
	s.mu.Lock()
	var fields []map[string]any
	for k, t := range s.modules["Calls"].fields {
		if !strings.HasPrefix(k, "$") {
			fields = append(fields, map[string]any{"api_name": k, "data_type": strings.SplitN(t, ":", 2)[0]})
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"fields": fields})
}
