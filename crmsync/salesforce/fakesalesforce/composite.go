package fakesalesforce

import (
	"encoding/json"
	"net/http"
)

// maxCollection is sObject Collections' limit ("The list can contain up
// to 200 objects").
const maxCollection = 200

// collection is POST /composite/sobjects (create) and PATCH
// /composite/sobjects/Task/<field> (upsert): one SaveResult per record,
// in order; with allOrNone, one failure rolls every record back ("Create
// Records Using sObject Collections", "Upsert Records Using sObject
// Collections").
func (s *Server) collection(w http.ResponseWriter, r *http.Request, extField string) {
	m, e := readBody(r)
	if e != nil {
		e.write(w)
		return
	}
	allOrNone, _ := m["allOrNone"].(bool)
	raw, ok := m["records"].([]any)
	if !ok {
		sfErr(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "records: a list of sObjects is required")
		return
	}
	if len(raw) > maxCollection {
		sfErr(w, http.StatusBadRequest, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call")
		return
	}
	if extField != "" && !s.isExternalID(extField) {
		sfErr(w, http.StatusNotFound, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: "+extField)
		return
	}
	type result struct {
		ID      string           `json:"id,omitempty"`
		Success bool             `json:"success"`
		Errors  []map[string]any `json:"errors"`
		Created *bool            `json:"created,omitempty"`
	}
	fail := func(code, msg string, fields []string) result {
		if fields == nil {
			fields = []string{}
		}
		return result{Errors: []map[string]any{{"statusCode": code, "message": msg, "fields": fields}}}
	}
	// Check everything first, so allOrNone can refuse before writing.
	recs := make([]Record, len(raw))
	out := make([]result, len(raw))
	failed := false
	for i, v := range raw {
		obj, _ := v.(map[string]any)
		attrs, _ := obj["attributes"].(map[string]any)
		switch {
		case obj == nil || attrs == nil || attrs["type"] != "Task":
			out[i], failed = fail("INVALID_TYPE", "Must send a concrete entity type.", nil), true
			continue
		case obj["Id"] != nil && extField == "":
			out[i], failed = fail("INVALID_FIELD", "Id not allowed when creating records", []string{"Id"}), true
			continue
		}
		rec, e := s.checkTask(obj)
		if e == nil && extField != "" {
			if v, _ := rec[extField].(string); v == "" {
				e = bad("REQUIRED_FIELD_MISSING", "Required fields are missing: ["+extField+"]", extField)
			}
		}
		if e != nil {
			out[i], failed = fail(e.code, e.msg, e.fields), true
			continue
		}
		recs[i] = rec
	}
	if allOrNone && failed {
		for i := range out {
			if out[i].Errors == nil {
				out[i] = fail("ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all records were valid and the request was using AllOrNone header", nil)
			}
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	for i, rec := range recs {
		if rec == nil {
			continue
		}
		if extField == "" {
			id, e := s.insert(rec)
			if e != nil {
				out[i] = fail(e.code, e.msg, e.fields)
				continue
			}
			out[i] = result{ID: id, Success: true, Errors: []map[string]any{}}
			continue
		}
		status, res, e := s.upsert(extField, rec[extField].(string), rec)
		if e != nil {
			out[i] = fail(e.code, e.msg, e.fields)
			continue
		}
		created := status == http.StatusCreated
		out[i] = result{ID: res["id"].(string), Success: true, Errors: []map[string]any{}, Created: &created}
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_, _ = w.Write(b)
}
