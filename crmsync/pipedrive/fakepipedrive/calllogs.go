package fakepipedrive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// outcomes of a call log (AddCallLogRequest.outcome).
var outcomes = []string{"connected", "no_answer", "left_message", "left_voicemail", "wrong_number", "busy"}

var digits = regexp.MustCompile(`^[0-9]+$`)

// addCallLog is POST /v1/callLogs (AddCallLogRequest): outcome,
// to_phone_number, start_time and end_time are required, times in UTC as
// "YYYY-MM-DD HH:MM:SS", duration a string of seconds; "a user without
// account settings access cannot create call logs for other users"; "a
// call log can be associated with either a deal or a lead, but not both".
// Fields a call log does not have are ignored. It creates the call
// activity the call log is attached to, named after its subject.
func (s *Server) addCallLog(w http.ResponseWriter, r *http.Request, caller int) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var in map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if r.Header.Get("Content-Type") != "application/json" || dec.Decode(&in) != nil {
		pdErr(w, http.StatusBadRequest, "The request body is not valid JSON")
		return
	}
	str := func(k string) (string, bool, bool) { // value, present, is a string
		v, ok := in[k]
		if !ok || v == nil {
			return "", false, true
		}
		s, isStr := v.(string)
		return s, true, isStr
	}
	num := func(k string) (int, bool, error) {
		v, ok := in[k]
		if !ok || v == nil {
			return 0, false, nil
		}
		n, isNum := v.(json.Number)
		i, err := n.Int64()
		if !isNum || err != nil || i <= 0 {
			return 0, true, fmt.Errorf("%s must be a positive integer", k)
		}
		return int(i), true, nil
	}
	var times [2]time.Time
	for i, k := range []string{"start_time", "end_time"} {
		v, present, isStr := str(k)
		if !present {
			pdErr(w, http.StatusBadRequest, k+" is required")
			return
		}
		t, err := time.Parse(time.DateTime, v)
		if !isStr || err != nil {
			pdErr(w, http.StatusBadRequest, k+" must be in the format YYYY-MM-DD HH:MM:SS")
			return
		}
		times[i] = t
	}
	if times[1].Before(times[0]) {
		pdErr(w, http.StatusBadRequest, "end_time must not be before start_time")
		return
	}
	outcome, present, isStr := str("outcome")
	if !present || !isStr || !slices.Contains(outcomes, outcome) {
		pdErr(w, http.StatusBadRequest, "outcome must be one of "+fmt.Sprint(outcomes))
		return
	}
	if to, present, isStr := str("to_phone_number"); !present || !isStr || to == "" {
		pdErr(w, http.StatusBadRequest, "to_phone_number is required")
		return
	}
	for _, k := range []string{"from_phone_number", "subject", "note", "lead_id"} {
		if _, _, isStr := str(k); !isStr {
			pdErr(w, http.StatusBadRequest, k+" must be a string")
			return
		}
	}
	if d, present, isStr := str("duration"); present && (!isStr || !digits.MatchString(d)) {
		pdErr(w, http.StatusBadRequest, "duration must be a string of seconds")
		return
	}
	ids := map[string]int{}
	for _, k := range []string{"user_id", "person_id", "org_id", "deal_id", "activity_id"} {
		n, present, err := num(k)
		if err != nil {
			pdErr(w, http.StatusBadRequest, err.Error())
			return
		}
		if present {
			ids[k] = n
		}
	}
	if _, lead, _ := str("lead_id"); lead && ids["deal_id"] != 0 {
		pdErr(w, http.StatusBadRequest, "A call log can be associated with either a deal or a lead, but not both at once")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	me, _ := s.user(caller)
	owner := caller
	if ids["user_id"] != 0 {
		owner = ids["user_id"]
		u, ok := s.user(owner)
		switch {
		case !ok || !u.Active:
			pdErr(w, http.StatusBadRequest, "User not found or inactive")
			return
		case owner != caller && !me.Admin:
			pdErr(w, http.StatusForbidden, "You do not have permission to create call logs for other users")
			return
		}
	}
	for k, list := range map[string][]*record{"person_id": s.persons, "org_id": s.orgs} {
		id := ids[k]
		if id == 0 {
			continue
		}
		if !slices.ContainsFunc(list, func(r *record) bool { return r.id == id && !r.gone }) {
			pdErr(w, http.StatusNotFound, fmt.Sprintf("%s %d not found", k, id))
			return
		}
	}
	subject, _, _ := str("subject")
	duration, _, _ := str("duration")
	note, _, _ := str("note")
	now := s.opts.Now().UTC()
	a := &Activity{ID: s.id(), Type: "call", Subject: subject, DueDate: times[0].Format(time.DateOnly), DueTime: times[0].Format("15:04"),
		Duration: duration, UserID: owner, PersonID: ids["person_id"], OrgID: ids["org_id"], Done: true, Note: note,
		CallLogID: randHex(12), CallLog: map[string]any{}, created: now, modified: now}
	for _, k := range []string{"outcome", "to_phone_number", "from_phone_number", "start_time", "end_time", "subject", "duration", "note", "user_id", "person_id", "org_id"} {
		if v, ok := in[k]; ok {
			a.CallLog[k] = v // only the fields a call log has
		}
	}
	s.activities = append(s.activities, a)
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "data": map[string]any{"id": a.CallLogID, "activity_id": a.ID,
		"user_id": owner, "subject": subject, "outcome": outcome, "start_time": times[0].Format(time.DateTime)}})
}

// listActivities is GET /v1/activities: user_id (0: everyone, for admins;
// another user's also only for admins), type, start_date and end_date on
// the due date, start and limit (at most 500).
func (s *Server) listActivities(w http.ResponseWriter, r *http.Request, caller int) {
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if q.Get("limit") == "" {
		limit, err = 100, nil
	}
	start, err2 := strconv.Atoi(q.Get("start"))
	if q.Get("start") == "" {
		start, err2 = 0, nil
	}
	if err != nil || err2 != nil || limit < 1 || limit > 500 || start < 0 {
		pdErr(w, http.StatusBadRequest, "limit must be 1 to 500 and start not negative")
		return
	}
	user := caller
	if v := q.Get("user_id"); v != "" {
		if user, err = strconv.Atoi(v); err != nil {
			pdErr(w, http.StatusBadRequest, "user_id must be an integer")
			return
		}
	}
	var from, to time.Time
	for _, d := range []struct {
		k string
		t *time.Time
	}{{"start_date", &from}, {"end_date", &to}} {
		if v := q.Get(d.k); v != "" {
			if *d.t, err = time.Parse(time.DateOnly, v); err != nil {
				pdErr(w, http.StatusBadRequest, d.k+" must be YYYY-MM-DD")
				return
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if me, _ := s.user(caller); user != caller && !me.Admin {
		pdErr(w, http.StatusForbidden, "You do not have permission to see other users' activities")
		return
	}
	var hits []map[string]any
	for _, a := range s.activities {
		due, _ := time.Parse(time.DateOnly, a.DueDate)
		switch {
		case user != 0 && a.UserID != user, q.Get("type") != "" && a.Type != q.Get("type"),
			!from.IsZero() && due.Before(from), !to.IsZero() && due.After(to):
			continue
		}
		hits = append(hits, map[string]any{"id": a.ID, "type": a.Type, "subject": a.Subject, "due_date": a.DueDate, "due_time": a.DueTime,
			"user_id": a.UserID, "person_id": a.PersonID, "org_id": a.OrgID, "done": a.Done, "note": a.Note})
	}
	end := min(start+limit, len(hits))
	page := hits[min(start, end):end]
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "data": page, "additional_data": map[string]any{
		"pagination": map[string]any{"start": start, "limit": limit, "more_items_in_collection": end < len(hits), "next_start": end}}})
}

// listV2 is GET /api/v2/persons and /api/v2/organizations: limit at most
// 500, cursor paging, updated_since in RFC 3339; deleted records are left
// out.
func (s *Server) listV2(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			pdErr(w, http.StatusBadRequest, "limit must be 1 to 500")
			return
		}
		limit = n
	}
	var since time.Time
	if v := q.Get("updated_since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			pdErr(w, http.StatusBadRequest, "updated_since must be RFC 3339")
			return
		}
		since = t
	}
	start := 0
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			pdErr(w, http.StatusBadRequest, "invalid cursor")
			return
		}
		start = n
	}
	s.mu.Lock()
	list := s.persons
	if r.URL.Path == "/api/v2/organizations" {
		list = s.orgs
	}
	var hits []map[string]any
	for _, rec := range list {
		if rec.gone || (!since.IsZero() && rec.update.Before(since)) {
			continue
		}
		row := map[string]any{"id": rec.id, "update_time": rec.update.Format(time.RFC3339)}
		for k, v := range rec.fields {
			row[k] = v
		}
		hits = append(hits, row)
	}
	s.mu.Unlock()
	end := min(start+limit, len(hits))
	resp := map[string]any{"success": true, "data": hits[min(start, end):end]}
	if end < len(hits) {
		resp["additional_data"] = map[string]any{"next_cursor": strconv.Itoa(end)}
	}
	writeJSON(w, http.StatusOK, resp)
}
