package fakedataverse

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	queueID = "33333333-4444-4555-8666-777777777777"
	teamID  = "44444444-5555-4666-8777-888888888888"
)

// AddToQueue, queue items and their deactivation behave as the Web API's:
// a second AddToQueue of the same phonecall gives the same item, a closed
// phonecall is refused, an unknown queue is a 404.
func TestAddToQueue(t *testing.T) {
	s, srv, tok := setup(t, Options{})
	s.AddQueue(Queue{ID: queueID, Name: "Support", OwnerID: user})
	create := `{"activityid":"` + pcID + `","subject":"Call back"}`
	if st, code, _ := send(t, srv, tok, call{"POST", "phonecalls", create, nil}); st != 204 {
		t.Fatalf("create: %d %s", st, code)
	}
	target := `{"Target":{"activityid":"` + pcID + `","@odata.type":"Microsoft.Dynamics.CRM.phonecall"}}`
	action := "queues(" + queueID + ")/Microsoft.Dynamics.CRM.AddToQueue"
	item := func() string {
		req, _ := http.NewRequest("POST", srv.URL+APIPath+action, strings.NewReader(target))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("OData-Version", "4.0")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct{ QueueItemId string }
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || json.Unmarshal(b, &r) != nil || r.QueueItemId == "" {
			t.Fatalf("AddToQueue: %d %s", resp.StatusCode, b)
		}
		return r.QueueItemId
	}
	first := item()
	if again := item(); again != first {
		t.Errorf("second AddToQueue gave item %s, want %s", again, first)
	}
	for name, tt := range map[string]struct {
		c      call
		status int
		code   string
	}{
		"unknown queue":  {call{"POST", "queues(99999999-0000-4000-8000-000000000000)/Microsoft.Dynamics.CRM.AddToQueue", target, nil}, 404, "0x80040217"},
		"unknown target": {call{"POST", action, strings.Replace(target, pcID, "99999999-0000-4000-8000-000000000000", 1), nil}, 404, "0x80040217"},
		"no target":      {call{"POST", action, `{}`, nil}, 400, "0x80048d19"},
		"wrong type":     {call{"POST", action, strings.Replace(target, "phonecall", "email", 1), nil}, 400, "0x80048d19"},
		"extra param":    {call{"POST", action, `{"Target":{},"Queue":1}`, nil}, 400, "0x80048d19"},
		"other action":   {call{"POST", "queues(" + queueID + ")/Microsoft.Dynamics.CRM.PickFromQueue", `{}`, nil}, 404, "0x8006088a"},
		"GET on action":  {call{"GET", action, "", nil}, 405, "0x80060888"},
	} {
		if st, code, _ := send(t, srv, tok, tt.c); st != tt.status || code != tt.code {
			t.Errorf("%s: %d %q, want %d %q", name, st, code, tt.status, tt.code)
		}
	}
	q := "queueitems?$select=queueitemid&$filter=" + url.QueryEscape("_queueid_value eq "+queueID+" and _objectid_value eq "+pcID+" and statecode eq 0")
	active := func() int {
		req, _ := http.NewRequest("GET", srv.URL+APIPath+q, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("OData-Version", "4.0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var page struct{ Value []map[string]any }
		json.NewDecoder(resp.Body).Decode(&page)
		return len(page.Value)
	}
	if n := active(); n != 1 {
		t.Fatalf("%d active items, want 1", n)
	}
	// Completing the phonecall takes it off the queue; a closed one
	// cannot be queued.
	if st, code, _ := send(t, srv, tok, call{"PATCH", "phonecalls(" + pcID + ")", `{"statecode":1,"statuscode":2}`, map[string]string{"If-Match": "*"}}); st != 204 {
		t.Fatalf("complete: %d %s", st, code)
	}
	if n := active(); n != 0 {
		t.Errorf("%d active items after completing", n)
	}
	if st, code, _ := send(t, srv, tok, call{"POST", action, target, nil}); st != 400 || code != "0x80040203" {
		t.Errorf("queueing a closed phonecall: %d %s", st, code)
	}
}

// A queue's owner comes with its lookup annotation only when asked for;
// a team may own a phonecall; custom columns exist only when added.
func TestQueueOwnerAndColumns(t *testing.T) {
	s, srv, tok := setup(t, Options{PhonecallAttributes: []string{"new_wrapcode"}})
	s.AddTeam(teamID, "Support team")
	s.AddQueue(Queue{ID: queueID, Name: "Support", OwnerID: teamID, OwnerIsTeam: true})
	get := func(prefer string) map[string]any {
		req, _ := http.NewRequest("GET", srv.URL+APIPath+"queues?$select=queueid,_ownerid_value&$filter="+url.QueryEscape("name eq 'Support'"), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("OData-Version", "4.0")
		if prefer != "" {
			req.Header.Set("Prefer", prefer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var page struct{ Value []map[string]any }
		json.NewDecoder(resp.Body).Decode(&page)
		if len(page.Value) != 1 {
			t.Fatalf("queues: %+v", page)
		}
		return page.Value[0]
	}
	if v := get(""); v["_ownerid_value"] != teamID || v["_ownerid_value"+lookupAnnotation] != nil {
		t.Errorf("without Prefer: %v", v)
	}
	if v := get(`odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"`); v["_ownerid_value"+lookupAnnotation] != "team" {
		t.Errorf("with Prefer: %v", v)
	}
	body := `{"activityid":"` + pcID + `","subject":"s","ownerid@odata.bind":"/teams(` + teamID + `)","new_wrapcode":"SALE"}`
	if st, code, _ := send(t, srv, tok, call{"POST", "phonecalls", body, nil}); st != 204 {
		t.Fatalf("team-owned create with a custom column: %d %s", st, code)
	}
	if pc, _ := s.Phonecall(pcID); pc["_ownerid_value"] != teamID || pc["new_wrapcode"] != "SALE" {
		t.Errorf("stored %v", pc)
	}
	_, srv2, tok2 := setup(t, Options{})
	if st, code, _ := send(t, srv2, tok2, call{"POST", "phonecalls", `{"subject":"s","new_wrapcode":"SALE"}`, nil}); st != 400 || code != "0x80060888" {
		t.Errorf("custom column not added: %d %s", st, code)
	}
	if st, code, _ := send(t, srv2, tok2, call{"POST", "phonecalls", `{"subject":"s","description":"` + strings.Repeat("x", 2001) + `"}`, nil}); st != 400 {
		t.Errorf("a 2001-character description: %d %s", st, code)
	}
}
