package fakehubspot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// callProps are the calls properties callbridge may touch and a few more,
// with their types (Calls API, "Properties"): hs_timestamp is required,
// a Unix time in milliseconds or UTC; hs_call_duration is milliseconds.
var callProps = map[string]string{
	"hs_timestamp":          "datetime",
	"hs_call_title":         "string",
	"hs_call_body":          "string",
	"hs_call_direction":     "enum:INBOUND|OUTBOUND",
	"hs_call_status":        "enum:BUSY|CALLING_CRM_USER|CANCELED|COMPLETED|CONNECTING|FAILED|IN_PROGRESS|MISSED|NO_ANSWER|QUEUED|RINGING",
	"hs_call_duration":      "number",
	"hs_call_from_number":   "string",
	"hs_call_to_number":     "string",
	"hs_call_disposition":   "string",
	"hs_call_recording_url": "string",
	"hubspot_owner_id":      "owner",
	"hs_object_id":          "readonly",
	"hs_createdate":         "readonly",
	"hs_lastmodifieddate":   "readonly",
}

// Association type ids a call may carry, and where they point
// (Associations v4: 194 call to contact, 182 call to company).
var callAssociations = map[int]string{194: "contacts", 182: "companies"}

// maxString is a string property's limit (65,536 characters).
const maxString = 65536

// invalid is one property refused, in the shape of a validation error's
// errors[] entry.
func invalid(code, name, msg string) map[string]any {
	return map[string]any{"message": msg, "code": code, "context": map[string]any{"propertyName": []string{name}}}
}

type input struct {
	Properties   map[string]any `json:"properties"`
	Associations []struct {
		To struct {
			ID any `json:"id"`
		} `json:"to"`
		Types []struct {
			Category string `json:"associationCategory"`
			TypeID   int    `json:"associationTypeId"`
		} `json:"types"`
	} `json:"associations"`
}

// decode reads a JSON body into v. Unknown top-level keys are ignored, as
// HubSpot's deserializer ignores them.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		hsErr(w, http.StatusUnsupportedMediaType, "VALIDATION_ERROR", "Content-Type must be application/json")
		return false
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err != nil || dec.Decode(v) != nil {
		hsErr(w, http.StatusBadRequest, "VALIDATION_ERROR", "Invalid input JSON: the body could not be read")
		return false
	}
	return true
}

// check validates one input and returns the properties and associations
// to store, or the error details. Caller holds mu.
func (s *Server) check(in input) (map[string]string, []association, []map[string]any) {
	t := s.tables["calls"]
	props := map[string]string{}
	var bad []map[string]any
	for k, v := range in.Properties {
		typ, known := t.props[k]
		switch {
		case !known:
			bad = append(bad, invalid("PROPERTY_DOESNT_EXIST", k, fmt.Sprintf("Property %q does not exist", k)))
			continue
		case typ == "readonly":
			bad = append(bad, invalid("READ_ONLY_VALUE", k, fmt.Sprintf("%q is a read only property; its value cannot be set.", k)))
			continue
		case v == nil:
			continue
		}
		var str string
		switch x := v.(type) {
		case string:
			str = x
		case json.Number:
			str = x.String()
		case bool:
			str = strconv.FormatBool(x)
		default:
			bad = append(bad, invalid("INVALID_TYPE", k, fmt.Sprintf("%q: a property value must be a string", k)))
			continue
		}
		if d := s.checkValue(k, typ, str); d != nil {
			bad = append(bad, d)
			continue
		}
		props[k] = str
	}
	if _, ok := props["hs_timestamp"]; !ok {
		bad = append(bad, invalid("REQUIRED_PROPERTY", "hs_timestamp", "hs_timestamp is required"))
	}
	var assoc []association
	for _, a := range in.Associations {
		id := fmt.Sprint(a.To.ID)
		for _, ty := range a.Types {
			set, known := callAssociations[ty.TypeID]
			switch {
			case ty.Category != "HUBSPOT_DEFINED" || !known:
				bad = append(bad, map[string]any{"message": fmt.Sprintf("association type %s/%d is not valid from calls", ty.Category, ty.TypeID), "code": "INVALID_ASSOCIATION_TYPE"})
			case s.tables[set].byID[id] == nil || s.tables[set].byID[id].archived:
				bad = append(bad, map[string]any{"message": fmt.Sprintf("%s %s does not exist", strings.TrimSuffix(set, "s"), id), "code": "OBJECT_NOT_FOUND"})
			default:
				assoc = append(assoc, association{to: id, typ: ty.TypeID})
			}
		}
		if len(a.Types) == 0 {
			bad = append(bad, map[string]any{"message": "an association needs a type", "code": "INVALID_ASSOCIATION_TYPE"})
		}
	}
	return props, assoc, bad
}

func (s *Server) checkValue(k, typ, v string) map[string]any {
	kind, arg, _ := strings.Cut(typ, ":")
	switch kind {
	case "string":
		if len([]rune(v)) > maxString {
			return invalid("INVALID_STRING_LENGTH", k, fmt.Sprintf("%q is longer than %d characters", k, maxString))
		}
	case "enum":
		if !slices.Contains(strings.Split(arg, "|"), v) {
			return invalid("INVALID_OPTION", k, fmt.Sprintf("%s was not one of the allowed options: [%s]", v, strings.ReplaceAll(arg, "|", ", ")))
		}
	case "number":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return invalid("INVALID_INTEGER", k, fmt.Sprintf("%s was not a valid long.", v))
		}
	case "datetime":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				return invalid("INVALID_DATE", k, fmt.Sprintf("%s is neither a Unix time in milliseconds nor a UTC date-time", v))
			}
		}
	case "owner":
		for _, o := range s.owners {
			if o.ID == v && !o.Archived {
				return nil
			}
		}
		return invalid("INVALID_OWNER_ID", k, fmt.Sprintf("%s is not a valid owner id", v))
	}
	return nil
}

func (s *Server) refuse(w http.ResponseWriter, bad []map[string]any) {
	msgs := make([]string, len(bad))
	for i, b := range bad {
		msgs[i] = fmt.Sprint(b["message"])
	}
	hsErr(w, http.StatusBadRequest, "VALIDATION_ERROR", "Property values were not valid: "+strings.Join(msgs, "; "), bad...)
}

func (s *Server) result(r *row) map[string]any {
	props := map[string]string{}
	for k, v := range r.props {
		props[k] = v
	}
	return map[string]any{"id": r.id, "properties": props, "createdAt": r.created.Format(time.RFC3339Nano),
		"updatedAt": r.updated.Format(time.RFC3339Nano), "archived": false}
}

// createCall is POST /crm/v3/objects/calls: 201 with the call.
func (s *Server) createCall(w http.ResponseWriter, r *http.Request) {
	var in input
	if !decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	props, assoc, bad := s.check(in)
	if len(bad) > 0 {
		s.mu.Unlock()
		s.refuse(w, bad)
		return
	}
	row := s.insert("calls", props, assoc)
	res := s.result(row)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, res)
}

// maxBatch is the batch endpoints' input limit.
const maxBatch = 100

// batchCreate is POST /crm/v3/objects/calls/batch/create: every input is
// validated first and one invalid input refuses the batch (400, nothing
// written); results come in no promised order (here: reversed).
func (s *Server) batchCreate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Inputs []input `json:"inputs"`
	}
	if !decode(w, r, &body) {
		return
	}
	if len(body.Inputs) > maxBatch || len(body.Inputs) == 0 {
		hsErr(w, http.StatusBadRequest, "VALIDATION_ERROR", fmt.Sprintf("inputs: between 1 and %d inputs are allowed, got %d", maxBatch, len(body.Inputs)))
		return
	}
	started := s.opts.Now().UTC()
	s.mu.Lock()
	type checked struct {
		props map[string]string
		assoc []association
	}
	all := make([]checked, len(body.Inputs))
	var bad []map[string]any
	for i, in := range body.Inputs {
		p, a, b := s.check(in)
		for _, d := range b {
			d["context"] = map[string]any{"inputIndex": []string{strconv.Itoa(i)}}
		}
		bad = append(bad, b...)
		all[i] = checked{p, a}
	}
	if len(bad) > 0 {
		s.mu.Unlock()
		s.refuse(w, bad)
		return
	}
	results := make([]map[string]any, len(all))
	for i, c := range all {
		results[len(all)-1-i] = s.result(s.insert("calls", c.props, c.assoc))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"status": "COMPLETE", "results": results,
		"startedAt": started.Format(time.RFC3339Nano), "completedAt": s.opts.Now().UTC().Format(time.RFC3339Nano)})
}
