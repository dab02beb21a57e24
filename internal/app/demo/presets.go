package demo

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/callbridge/callbridge/crmsync/connectors"
	"github.com/callbridge/callbridge/crmsync/creatio"
	"github.com/callbridge/callbridge/crmsync/creatio/fakecreatio"
	"github.com/callbridge/callbridge/crmsync/dynamics"
	"github.com/callbridge/callbridge/crmsync/dynamics/fakedataverse"
	"github.com/callbridge/callbridge/crmsync/hubspot"
	"github.com/callbridge/callbridge/crmsync/hubspot/fakehubspot"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/crmsync/pipedrive"
	"github.com/callbridge/callbridge/crmsync/pipedrive/fakepipedrive"
	"github.com/callbridge/callbridge/crmsync/salesforce"
	"github.com/callbridge/callbridge/crmsync/salesforce/fakesalesforce"
	"github.com/callbridge/callbridge/crmsync/zoho"
	"github.com/callbridge/callbridge/crmsync/zoho/fakezoho"
)

// CRMs are the values of Options.CRM: the local webhook ("" or
// "webhook") and every preset whose strict fake the demo can run.
var CRMs = []string{"webhook", "dynamics", "salesforce", "hubspot", "zoho", "pipedrive", "creatio"}

// preset is a CRM's strict fake (the one its connector's tests use),
// seeded with the demo's users (Alice and Bob, mapped by e-mail) and the
// caller the recordings ring from (Maija Meikäläinen at +358 40 123 4567,
// of Acme Oy), and the connector configuration that points at it.
type preset struct {
	cfg connectors.ConnectorConfig
	srv *httptest.Server
	// record is what the CRM holds for an activity (nil: nothing).
	record func(activityID string) map[string]any
	// fields are the record's fields worth showing, in order.
	fields []string
	// names turns the fake's ids (users, contact, account) into names.
	names map[string]string
}

// demo CRM credentials: they only ever reach the local fakes.
const (
	demoClient = "callbridge-demo"
	demoSecret = "demo-only-crm-secret"
)

func newPreset(name string) (*preset, error) {
	p := &preset{names: map[string]string{}}
	recognition := &phoneindex.Settings{Region: "FI", Enabled: true}
	switch name {
	case "dynamics":
		p.srv = httptest.NewUnstartedServer(nil)
		p.srv.Start()
		f := fakedataverse.New(fakedataverse.Options{ClientID: demoClient, ClientSecret: demoSecret, Scope: p.srv.URL + "/.default"})
		p.srv.Config.Handler = f
		for i, u := range [][2]string{{"Alice", "alice@example.com"}, {"Bob", "bob@example.com"}} {
			id := fmt.Sprintf("00000000-0000-4000-8000-00000000000%d", i+1)
			f.AddUser(fakedataverse.SystemUser{ID: id, Email: u[1], FullName: u[0]})
			p.names[id] = u[0]
		}
		const contact = "00000000-0000-4000-8000-00000000c0c0"
		f.AddRecord("contacts", fakedataverse.Record{"contactid": contact, "fullname": "Maija Meikäläinen", "mobilephone": "040 123 4567"})
		p.names[contact] = "Maija Meikäläinen"
		p.cfg = connectors.ConnectorConfig{Type: name, Recognition: recognition, Settings: &dynamics.Config{URL: p.srv.URL,
			TenantID: "contoso.onmicrosoft.com", TokenURL: p.srv.URL + "/contoso.onmicrosoft.com/oauth2/v2.0/token",
			ClientID: demoClient, ClientSecret: demoSecret}}
		p.record = func(id string) map[string]any {
			r, ok := f.Phonecall(dynamics.RecordID(id))
			if !ok {
				return nil
			}
			return r
		}
		p.fields = []string{"directioncode", "actualdurationminutes", "_ownerid_value", "_regardingobjectid_value", "phonenumber", "subject"}
	case "salesforce":
		f := fakesalesforce.New(fakesalesforce.Options{ClientID: demoClient, ClientSecret: demoSecret,
			TaskFields: map[string]string{salesforce.DefaultTemplateField: "string"}})
		p.srv = httptest.NewServer(f)
		p.names[f.AddUser("alice@example.com", "Alice", true)] = "Alice"
		p.names[f.AddUser("bob@example.com", "Bob", true)] = "Bob"
		account := f.AddRecord("Account", fakesalesforce.Record{"Name": "Acme Oy", "Phone": "+358 9 876 5432"})
		p.names[account] = "Acme Oy"
		p.names[f.AddRecord("Contact", fakesalesforce.Record{"FirstName": "Maija", "LastName": "Meikäläinen",
			"MobilePhone": "040 123 4567", "AccountId": account})] = "Maija Meikäläinen"
		p.cfg = connectors.ConnectorConfig{Type: name, Recognition: recognition,
			Settings: &salesforce.Config{URL: p.srv.URL, ClientID: demoClient, ClientSecret: demoSecret}}
		p.record = func(id string) map[string]any {
			t, ok := f.Task(id)
			if !ok {
				return nil
			}
			return t
		}
		p.fields = []string{"CallType", "CallDisposition", "CallDurationInSeconds", "OwnerId", "WhoId", "WhatId", salesforce.DefaultTemplateField, "Subject"}
	case "hubspot":
		const token = "pat-eu1-demo-only-token"
		f := fakehubspot.New(fakehubspot.Options{Tokens: []string{token}, IndexLag: 100 * time.Millisecond})
		p.srv = httptest.NewServer(f)
		p.names[f.AddOwner("alice@example.com", "Alice", "A", false)] = "Alice"
		p.names[f.AddOwner("bob@example.com", "Bob", "B", false)] = "Bob"
		company := f.AddRecord("companies", map[string]string{"name": "Acme Oy", "phone": "+358 9 876 5432"})
		p.names[company] = "Acme Oy"
		p.names[f.AddRecord("contacts", map[string]string{"firstname": "Maija", "lastname": "Meikäläinen",
			"mobilephone": "040 123 4567", "associatedcompanyid": company})] = "Maija Meikäläinen"
		p.cfg = connectors.ConnectorConfig{Type: name, Recognition: recognition, Settings: &hubspot.Config{URL: p.srv.URL, Token: token}}
		p.record = func(id string) map[string]any {
			for _, c := range f.Calls() {
				if c.Properties[hubspot.DefaultMarkerProperty] != id {
					continue
				}
				r := map[string]any{}
				for k, v := range c.Properties {
					r[k] = v
				}
				// Association type ids: 194 call to contact, 182 call to
				// company (HubSpot-defined).
				r["contact"], r["company"] = strings.Join(c.Associations[194], ","), strings.Join(c.Associations[182], ",")
				return r
			}
			return nil
		}
		p.fields = []string{"hs_call_direction", "hs_call_status", "hs_call_duration", "hubspot_owner_id", "contact", "company", hubspot.DefaultTemplateProperty, "hs_call_title"}
	case "zoho":
		const refresh = "1000.demo-only-refresh-token"
		f := fakezoho.New(fakezoho.Options{ClientID: demoClient, ClientSecret: demoSecret, RefreshToken: refresh, UniqueMarker: true})
		p.srv = httptest.NewServer(f)
		p.names[f.AddUser("alice@example.com", "Alice", "active")] = "Alice"
		p.names[f.AddUser("bob@example.com", "Bob", "active")] = "Bob"
		account := f.AddRecord("Accounts", map[string]string{"Account_Name": "Acme Oy", "Phone": "+358 9 876 5432"})
		p.names[account] = "Acme Oy"
		p.names[f.AddRecord("Contacts", map[string]string{"Full_Name": "Maija Meikäläinen", "Mobile": "040 123 4567", "Account_Name": account})] = "Maija Meikäläinen"
		p.cfg = connectors.ConnectorConfig{Type: name, Recognition: recognition, Settings: &zoho.Config{APIURL: p.srv.URL,
			AccountsURL: p.srv.URL, WebURL: "https://crm.zoho.eu", ClientID: demoClient, ClientSecret: demoSecret, RefreshToken: refresh}}
		p.record = func(id string) map[string]any {
			for _, c := range f.Calls() {
				if c[zoho.DefaultMarkerField] == id {
					return c
				}
			}
			return nil
		}
		p.fields = []string{"Call_Type", "Call_Result", "Call_Duration", "Owner", "Who_Id", "What_Id", zoho.DefaultTemplateField, "Subject"}
	case "pipedrive":
		const token = "demo-only-pipedrive-api-token"
		f := fakepipedrive.New(fakepipedrive.Options{APITokens: map[string]int{token: 1}})
		p.srv = httptest.NewServer(f)
		for i, u := range [][2]string{{"Admin", "calls@example.com"}, {"Alice", "alice@example.com"}, {"Bob", "bob@example.com"}} {
			f.AddUser(fakepipedrive.User{ID: i + 1, Name: u[0], Email: u[1], Active: true, Admin: i == 0})
			p.names[fmt.Sprint(i+1)] = u[0]
		}
		org := f.AddOrganization(map[string]any{"name": "Acme Oy"})
		p.names[fmt.Sprint(org)] = "Acme Oy"
		p.names[fmt.Sprint(f.AddPerson(map[string]any{"name": "Maija Meikäläinen", "org_id": org,
			"phones": []any{map[string]any{"value": "040 123 4567", "primary": true, "label": "mobile"}}}))] = "Maija Meikäläinen"
		p.cfg = connectors.ConnectorConfig{Type: name, Recognition: recognition,
			Settings: &pipedrive.Config{URL: p.srv.URL, APIToken: token, CompanyDomain: "acme"}}
		p.record = func(id string) map[string]any {
			for _, a := range f.Activities() {
				if strings.HasSuffix(a.Subject, pipedrive.Marker(id)) && a.CallLog != nil {
					r := map[string]any{"subject": a.Subject}
					for k, v := range a.CallLog {
						r[k] = v
					}
					return r
				}
			}
			return nil
		}
		p.fields = []string{"outcome", "duration", "user_id", "person_id", "org_id", "subject"}
	case "creatio":
		f := fakecreatio.New(fakecreatio.Options{ClientID: demoClient, ClientSecret: demoSecret})
		p.srv = httptest.NewServer(f)
		p.names[f.AddUser("Alice", "alice@example.com", true)] = "Alice"
		p.names[f.AddUser("Bob", "bob@example.com", true)] = "Bob"
		account := f.Add("Account", fakecreatio.Row{"Name": "Acme Oy", "Phone": "+358 9 876 5432"})
		p.names[account] = "Acme Oy"
		p.names[f.Add("Contact", fakecreatio.Row{"Name": "Maija Meikäläinen", "MobilePhone": "040 123 4567", "AccountId": account})] = "Maija Meikäläinen"
		p.cfg = connectors.ConnectorConfig{Type: name, Recognition: recognition, Settings: &creatio.Config{URL: p.srv.URL,
			IdentityURL: p.srv.URL, ClientID: demoClient, ClientSecret: demoSecret}}
		p.record = func(id string) map[string]any {
			call, ok := f.Get("Call", creatio.RecordID(id, "call"))
			if !ok {
				return nil
			}
			r := map[string]any{}
			for k, v := range call {
				r[k] = v
			}
			if act, ok := f.Get("Activity", creatio.RecordID(id, "activity")); ok {
				r["Activity.OwnerId"] = act["OwnerId"]
			}
			return r
		}
		p.fields = []string{"DirectionId", "Duration", "TalkTime", "ContactId", "AccountId", "Activity.OwnerId", creatio.DefaultTemplateField, "Caption"}
	default:
		return nil, fmt.Errorf("--crm %q: not one of %s", name, strings.Join(CRMs, ", "))
	}
	p.cfg.Name = "demo_" + name
	return p, nil
}

// line describes r, the record an activity became, in the CRM's own field
// names; ids the demo seeded show as names.
func (p *preset) line(r map[string]any) string {
	var parts []string
	for _, f := range p.fields {
		v, ok := r[f]
		if !ok || v == nil || v == "" {
			continue
		}
		if m, ok := v.(map[string]any); ok { // a lookup: {"id": …, "name": …}
			v = m["id"]
		}
		s := fmt.Sprint(v)
		for id, name := range p.names {
			if strings.EqualFold(id, s) {
				s = name
				break
			}
		}
		parts = append(parts, f+"="+quoteIfSpaced(s))
	}
	return strings.Join(parts, " ")
}

func quoteIfSpaced(s string) string {
	if strings.ContainsAny(s, " \t") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
