package fakedataverse

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Queues and queue items, as the Web API has them:
//
//   - queues (queueid, name, ownerid: a systemuser or a team); a queue's
//     owner comes with the annotation
//     _ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname when the
//     request asks for annotations (Prefer: odata.include-annotations).
//   - queueitems (queueitemid, _queueid_value, _objectid_value,
//     objecttypecode, statecode 0 active / 1 inactive, title, enteredon),
//     queryable like any table.
//   - the bound action AddToQueue, POST queues(<id>)/Microsoft.Dynamics.CRM.AddToQueue
//     with {"Target": {"activityid": …, "@odata.type": "Microsoft.Dynamics.CRM.phonecall"}},
//     answering {"QueueItemId": …} (AddToQueueResponse). A target already
//     active in that queue gets its existing item back; a closed activity
//     cannot be queued.
//   - closing a phonecall deactivates its queue items, as closing an
//     activity takes it off the queue's active items.
//
// See learn.microsoft.com: Dataverse Web API reference, AddToQueue Action
// (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/addtoqueue),
// AddToQueueResponse ComplexType, and the queueitem table/entity reference
// (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/queueitem).

// lookupAnnotation is the annotation naming a lookup's table.
const lookupAnnotation = "@Microsoft.Dynamics.CRM.lookuplogicalname"

func (s *Server) addQueueTables() {
	s.addTable("teams", "teamid", []string{"name", "modifiedon"})
	s.addTable("queues", "queueid", []string{"name", "_ownerid_value", "modifiedon"})
	s.addTable("queueitems", "queueitemid", []string{"_queueid_value", "_objectid_value", "objecttypecode", "statecode", "title", "enteredon", "modifiedon"})
}

// Queue is a Dataverse queue.
type Queue struct {
	ID, Name string
	// OwnerID is the owning systemuser, or team when OwnerIsTeam.
	OwnerID     string
	OwnerIsTeam bool
}

// AddTeam adds a team.
func (s *Server) AddTeam(id, name string) {
	s.put("teams", Record{"teamid": strings.ToLower(id), "name": name, "modifiedon": s.opts.Now().UTC().Format(time.RFC3339)})
}

// AddQueue adds a queue.
func (s *Server) AddQueue(q Queue) {
	kind := "systemuser"
	if q.OwnerIsTeam {
		kind = "team"
	}
	s.put("queues", Record{"queueid": strings.ToLower(q.ID), "name": q.Name, "_ownerid_value": strings.ToLower(q.OwnerID),
		"_ownerid_value" + lookupAnnotation: kind, "modifiedon": s.opts.Now().UTC().Format(time.RFC3339)})
}

// QueueItems lists the queue items of queue id (active and not), oldest
// first.
func (s *Server) QueueItems(queueID string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables["queueitems"]
	var out []Record
	for _, id := range t.order {
		if r := t.rows[id]; r["_queueid_value"] == strings.ToLower(queueID) {
			out = append(out, clone(r))
		}
	}
	return out
}

// PhonecallList returns every phonecall, in creation order.
func (s *Server) PhonecallList() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, 0, len(s.pcOrder))
	for _, id := range s.pcOrder {
		out = append(out, clone(s.phonecalls[id]))
	}
	return out
}

func clone(r Record) Record {
	c := Record{}
	for k, v := range r {
		c[k] = v
	}
	return c
}

// AddAttributes gives table set more attributes (custom columns).
func (s *Server) AddAttributes(set string, attrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range attrs {
		s.tables[set].attrs[a] = true
	}
}

// wantsAnnotations says whether the request asked for lookup annotations.
func wantsAnnotations(h http.Header) bool {
	for _, p := range strings.Split(h.Get("Prefer"), ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(p), "odata.include-annotations=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		if v == "*" || strings.Contains(v, "Microsoft.Dynamics.CRM.lookuplogicalname") || v == "Microsoft.Dynamics.CRM.*" {
			return true
		}
	}
	return false
}

// annotate adds to out the lookup annotations of row's selected lookups
// when the request asked for them, and drops them otherwise.
func annotate(out, row Record, h http.Header) Record {
	want := wantsAnnotations(h)
	for k := range out {
		if strings.Contains(k, lookupAnnotation) {
			delete(out, k) // a select-all projection copied them
		}
	}
	if !want {
		return out
	}
	for k := range out {
		if strings.HasPrefix(k, "_") && strings.HasSuffix(k, "_value") {
			if v, ok := row[k+lookupAnnotation]; ok && out[k] != nil {
				out[k+lookupAnnotation] = v
			}
		}
	}
	return out
}

// routeQueues serves AddToQueue; it reports whether it handled the
// request.
func (s *Server) routeQueues(w http.ResponseWriter, method, path string, _ url.Values, h http.Header, body []byte, origin string) bool {
	rest, ok := strings.CutPrefix(path, "queues(")
	if !ok {
		return false
	}
	key, action, ok := strings.Cut(rest, ")/")
	if !ok {
		return false
	}
	if action != "Microsoft.Dynamics.CRM.AddToQueue" {
		dvErr(w, http.StatusNotFound, "0x8006088a", "Resource not found for the segment '%s'.", action)
		return true
	}
	if method != http.MethodPost {
		dvErr(w, http.StatusMethodNotAllowed, "0x80060888", "The request method %s is not allowed for an action.", method)
		return true
	}
	if !guid.MatchString(key) {
		dvErr(w, http.StatusBadRequest, "0x80060888", "Bad Request - Error in query syntax: key %q", key)
		return true
	}
	s.addToQueue(w, strings.ToLower(key), h, body, origin)
	return true
}

func (s *Server) addToQueue(w http.ResponseWriter, queueID string, h http.Header, body []byte, origin string) {
	m, ok := jsonBody(w, h, body)
	if !ok {
		return
	}
	for k := range m {
		if k != "Target" && k != "SourceQueue" && k != "QueueItemProperties" {
			dvErr(w, http.StatusBadRequest, "0x80048d19", "The parameter '%s' in the request payload is not a valid parameter for the operation 'AddToQueue'.", k)
			return
		}
	}
	target, _ := m["Target"].(map[string]any)
	typ, _ := target["@odata.type"].(string)
	id, _ := target["activityid"].(string)
	switch {
	case target == nil:
		dvErr(w, http.StatusBadRequest, "0x80048d19", "AddToQueue: Target is required.")
		return
	case typ != "Microsoft.Dynamics.CRM.phonecall":
		dvErr(w, http.StatusBadRequest, "0x80048d19", "AddToQueue: Target @odata.type %q is not supported here; this fake queues phonecalls.", typ)
		return
	case !guid.MatchString(id):
		dvErr(w, http.StatusBadRequest, "0x80048d19", "AddToQueue: Target activityid %q is not a Guid.", id)
		return
	}
	id = strings.ToLower(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tables["queues"].rows[queueID]; !ok {
		dvErr(w, http.StatusNotFound, "0x80040217", "queue With Ids = %s Do Not Exist", queueID)
		return
	}
	pc, ok := s.phonecalls[id]
	if !ok {
		dvErr(w, http.StatusNotFound, "0x80040217", "phonecall With Ids = %s Do Not Exist", id)
		return
	}
	if st, _ := asInt(pc["statecode"]); st != 0 {
		dvErr(w, http.StatusBadRequest, "0x80040203", "A closed activity cannot be added to a queue.")
		return
	}
	items := s.tables["queueitems"]
	for _, qi := range items.order {
		r := items.rows[qi]
		if r["_queueid_value"] == queueID && r["_objectid_value"] == id && r["statecode"] == json.Number("0") {
			writeAddToQueue(w, origin, qi)
			return
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	qi := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	now := s.opts.Now().UTC().Format(time.RFC3339)
	items.rows[qi] = Record{"queueitemid": qi, "_queueid_value": queueID, "_objectid_value": id, "objecttypecode": "phonecall",
		"statecode": json.Number("0"), "title": pc["subject"], "enteredon": now, "modifiedon": now}
	items.order = append(items.order, qi)
	writeAddToQueue(w, origin, qi)
}

func writeAddToQueue(w http.ResponseWriter, origin, id string) {
	writeJSON(w, map[string]any{"@odata.context": origin + APIPath + "$metadata#Microsoft.Dynamics.CRM.AddToQueueResponse", "QueueItemId": id})
}

// Complete marks phonecall id completed (statuscode 2, Made), as an agent
// closing it in the CRM would, taking it off its queues. It reports
// whether there was such a phonecall.
func (s *Server) Complete(id string) bool {
	id = strings.ToLower(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	pc, ok := s.phonecalls[id]
	if !ok {
		return false
	}
	next := clone(pc)
	next["statecode"], next["statuscode"] = json.Number("1"), json.Number("2")
	s.phonecalls[id] = next
	s.deactivateQueueItems(id)
	return true
}

// deactivateQueueItems takes phonecall id off its queues. Callers hold mu.
func (s *Server) deactivateQueueItems(id string) {
	items := s.tables["queueitems"]
	for _, qi := range items.order {
		if r := items.rows[qi]; r["_objectid_value"] == id {
			r["statecode"] = json.Number("1")
		}
	}
}
