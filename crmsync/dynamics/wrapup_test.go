package dynamics_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/dynamics"
	"github.com/callbridge/callbridge/crmsync/dynamics/fakedataverse"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

const queueID = "33333333-4444-4555-8666-777777777777"

func state(t *testing.T, e *env, id string) (string, string, fakedataverse.Record) {
	t.Helper()
	pc, ok := e.fake.Phonecall(dynamics.RecordID(id))
	if !ok {
		t.Fatalf("no phonecall for %s", id)
	}
	return string(pc["statecode"].(json.Number)), string(pc["statuscode"].(json.Number)), pc
}

// With wrapup.field set the code goes to that column and the notes to
// notes_field; without, both are added to the description. An open
// phonecall is completed as Received (inbound) by a completing update;
// a completed one keeps its state.
func TestUpdateColumns(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, fakedataverse.Options{PhonecallAttributes: []string{"new_wrapcode", "new_wrapnotes"}})
	cfg := e.config()
	cfg.Wrapup = dynamics.WrapupConfig{Field: "new_wrapcode", NotesField: "new_wrapnotes"}
	d := e.connector(t, cfg, dynamics.Options{Logger: zerolog.Nop()})
	if err := d.PushOpen(ctx, crmtest.Delivery("w1")); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := state(t, e, "w1"); st != "0" {
		t.Fatalf("pushed open: statecode %s", st)
	}
	if err := d.Update(ctx, crmtest.UpdateRequest("w1", "SALE", true)); err != nil {
		t.Fatal(err)
	}
	st, status, pc := state(t, e, "w1")
	if st != "1" || status != "4" || pc["new_wrapcode"] != "SALE" || pc["new_wrapnotes"] != "Wants a quote by Friday" {
		t.Fatalf("after wrap-up: %s/%s %v", st, status, pc)
	}
	if strings.Contains(pc["description"].(string), "Wrap-up") {
		t.Errorf("the description got the wrap-up too: %q", pc["description"])
	}

	plain := e.connector(t, e.config(), dynamics.Options{Logger: zerolog.Nop()})
	if err := plain.Push(ctx, crmtest.Delivery("w2")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := plain.Update(ctx, crmtest.UpdateRequest("w2", "NOSALE", false)); err != nil {
			t.Fatal(err)
		}
	}
	st, status, pc = state(t, e, "w2")
	desc := pc["description"].(string)
	if st != "1" || status != "4" || strings.Count(desc, "Wrap-up: NOSALE\nWrap-up notes: Wants a quote by Friday") != 1 {
		t.Fatalf("description fallback: %s/%s %q", st, status, desc)
	}
	// A deleted phonecall is a permanent failure: nothing to update.
	if err := plain.Update(ctx, crmtest.UpdateRequest("never-pushed", "SALE", true)); !crmerr.IsPermanent(err) {
		t.Errorf("update of a missing phonecall: %v", err)
	}
}

func TestWrapupConfigValidate(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	for _, tt := range []struct {
		w    dynamics.WrapupConfig
		want string
	}{
		{dynamics.WrapupConfig{Field: "new_wrapcode", NotesField: "description"}, ""},
		{dynamics.WrapupConfig{Field: "New Code"}, "wrapup.field"},
		{dynamics.WrapupConfig{Field: "subject"}, "wrapup.field"},
		{dynamics.WrapupConfig{Field: "description"}, "wrapup.field"},
		{dynamics.WrapupConfig{Field: "new_x", NotesField: "new_x"}, "wrapup.notes_field"},
		{dynamics.WrapupConfig{NotesField: "statecode"}, "wrapup.notes_field"},
	} {
		cfg := e.config()
		cfg.Wrapup = tt.w
		err := cfg.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: %v, want %q", tt.w, err, tt.want)
		}
	}
}

// cbEnv is a fake Dataverse with a support queue owned by Bob and a sales
// queue owned by a team.
func cbEnv(t *testing.T) (*env, *dynamics.Dynamics) {
	e := newEnv(t, fakedataverse.Options{})
	e.fake.AddQueue(fakedataverse.Queue{ID: queueID, Name: "Support", OwnerID: bob})
	e.fake.AddTeam(teamID, "Sales team")
	e.fake.AddQueue(fakedataverse.Queue{ID: salesQueue, Name: "Sales", OwnerID: teamID, OwnerIsTeam: true})
	return e, e.connector(t, e.config(), dynamics.Options{Logger: zerolog.Nop()})
}

const (
	teamID     = "44444444-5555-4666-8777-888888888888"
	salesQueue = "55555555-6666-4777-8888-999999999999"
)

func callback(id, queue, own, dup string, minute int) crmsync.Callback {
	cb := crmtest.Callback(id, queue, dup)
	cb.Ownership = own
	cb.RequestedAt = cb.RequestedAt.Add(time.Duration(minute) * time.Minute)
	return cb
}

// Ownership: api_user leaves the owner to Dataverse (the application
// user, which callbridge authenticates as); queue_owner binds the queue's
// owner, a user or a team. Both land in their queue, regarding nothing
// (no recognition here) and addressed to the number.
func TestCallbackOwnership(t *testing.T) {
	ctx := context.Background()
	e, d := cbEnv(t)
	for _, cb := range []crmsync.Callback{
		callback("api", "Support", crmsync.OwnerAPIUser, crmsync.DuplicatesBundle, 0),
		callback("qo", queueID, crmsync.OwnerQueue, crmsync.DuplicatesBundle, 1), // by queueid
		callback("team", "Sales", crmsync.OwnerQueue, crmsync.DuplicatesBundle, 2),
	} {
		if err := d.PushCallback(ctx, cb); err != nil {
			t.Fatalf("%s: %v", cb.ID, err)
		}
	}
	want := map[string]string{"api": "", "qo": bob, "team": teamID}
	for id, owner := range want {
		pc, ok := e.fake.Phonecall(dynamics.RecordID("callback:" + id))
		if !ok {
			t.Fatalf("no phonecall for %s", id)
		}
		got, _ := pc["_ownerid_value"].(string)
		if got != owner || pc["directioncode"] != true || pc["phonenumber"] != "+358401234567" || pc["statecode"] != json.Number("0") {
			t.Errorf("%s: owner %q, want %q; %v", id, got, owner, pc)
		}
	}
	if n := len(e.fake.QueueItems(queueID)); n != 2 {
		t.Errorf("support queue holds %d items, want 2", n)
	}
	if n := len(e.fake.QueueItems(salesQueue)); n != 1 {
		t.Errorf("sales queue holds %d items, want 1", n)
	}
	if err := d.PushCallback(ctx, callback("nowhere", "Billing", crmsync.OwnerAPIUser, crmsync.DuplicatesBundle, 3)); !crmerr.IsPermanent(err) {
		t.Errorf("unknown CRM queue: %v", err)
	}
}

// Duplicates: ignore writes no second request while the first is open in
// the queue, and writes one again once it is completed; bundle writes
// every request and names the others in each open one's description.
func TestCallbackDuplicates(t *testing.T) {
	ctx := context.Background()
	e, d := cbEnv(t)
	push := func(cb crmsync.Callback) {
		t.Helper()
		if err := d.PushCallback(ctx, cb); err != nil {
			t.Fatalf("%s: %v", cb.ID, err)
		}
	}
	held := func(id string) bool { return e.fake.Count(dynamics.RecordID("callback:"+id)) == 1 }

	push(callback("i1", "Support", crmsync.OwnerAPIUser, crmsync.DuplicatesIgnore, 0))
	push(callback("i2", "Support", crmsync.OwnerAPIUser, crmsync.DuplicatesIgnore, 1))
	push(callback("i1", "Support", crmsync.OwnerAPIUser, crmsync.DuplicatesIgnore, 0)) // a retry of the first
	if !held("i1") || held("i2") {
		t.Fatalf("ignore: i1 held %v, i2 held %v", held("i1"), held("i2"))
	}
	// Another queue is not a duplicate.
	push(callback("i3", "Sales", crmsync.OwnerAPIUser, crmsync.DuplicatesIgnore, 2))
	if !held("i3") {
		t.Fatal("ignore: a request in another queue was not written")
	}
	// Once the agent completes the first, a new request is written.
	id1 := dynamics.RecordID("callback:i1")
	completePhonecall(t, e, id1)
	push(callback("i4", "Support", crmsync.OwnerAPIUser, crmsync.DuplicatesIgnore, 3))
	if !held("i4") {
		t.Fatal("ignore: a request after the open one was completed was not written")
	}
	completePhonecall(t, e, dynamics.RecordID("callback:i4"))

	push(callback("b1", "Support", crmsync.OwnerAPIUser, crmsync.DuplicatesBundle, 10))
	push(callback("b2", "Support", crmsync.OwnerAPIUser, crmsync.DuplicatesBundle, 11))
	push(callback("b3", "Support", crmsync.OwnerAPIUser, crmsync.DuplicatesBundle, 12))
	push(callback("b2", "Support", crmsync.OwnerAPIUser, crmsync.DuplicatesBundle, 11)) // a retry
	ids := map[string]string{}
	for _, b := range []string{"b1", "b2", "b3"} {
		ids[b] = dynamics.RecordID("callback:" + b)
	}
	for b, id := range ids {
		pc, _ := e.fake.Phonecall(id)
		desc, _ := pc["description"].(string)
		for other, oid := range ids {
			if other != b && strings.Count(desc, oid) != 1 {
				t.Errorf("bundle: %s's description names %s %d times:\n%s", b, other, strings.Count(desc, oid), desc)
			}
		}
	}
}

// completePhonecall is an agent marking the call back done.
func completePhonecall(t *testing.T, e *env, id string) {
	t.Helper()
	if !e.fake.Complete(id) {
		t.Fatalf("no phonecall %s to complete", id)
	}
}

// Records carries each record's owner and the entity's fields, numbers as
// their digits, for routing rules.
func TestRecordsOwnerAndFields(t *testing.T) {
	e := newEnv(t, fakedataverse.Options{})
	e.fake.AddRecord("accounts", fakedataverse.Record{"accountid": "77777777-7777-4777-8777-777777777777", "name": "VIP Oy",
		"telephone1": "+358 9 111 2222", "_ownerid_value": bob, "accountcategorycode": 1})
	d := e.connector(t, e.config(), dynamics.Options{Logger: zerolog.Nop()})
	acc := phoneindex.DefaultEntities()[2]
	acc.Fields = []string{"accountcategorycode"}
	var got []phoneindex.Record
	err := d.Records(context.Background(), acc, time.Time{}, func(r []phoneindex.Record) error { got = append(got, r...); return nil })
	if err != nil {
		t.Fatal(err)
	}
	var vip *phoneindex.Record
	for i := range got {
		if got[i].Name == "VIP Oy" {
			vip = &got[i]
		}
	}
	if vip == nil || vip.Owner != bob || vip.Fields["accountcategorycode"] != "1" {
		t.Fatalf("records %+v", got)
	}
}
