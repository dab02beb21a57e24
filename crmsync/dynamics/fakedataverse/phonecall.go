package fakedataverse

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

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
