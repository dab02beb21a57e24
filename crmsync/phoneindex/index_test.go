package phoneindex

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func newTestIndex(t testing.TB, region string) *Index {
	t.Helper()
	ix, err := NewIndex(DefaultEntities(), Options{Region: region})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func ids(m Match) []string {
	var out []string
	for _, c := range m.Candidates {
		out = append(out, c.Entity+"/"+c.ID)
	}
	return out
}

func TestLookup(t *testing.T) {
	recs := []Record{
		{Entity: "contact", ID: "c-alice", Name: "Alice", Phones: []string{"040 123 4567"}, Modified: t0},
		{Entity: "account", ID: "a-acme", Name: "Acme", Phones: []string{"+358 9 876 5432", "050 111 2222"}, Modified: t0.Add(time.Hour)},
		// A local form the normaliser refuses (letters): last digits only.
		{Entity: "contact", ID: "c-bob", Name: "Bob", Phones: []string{"mob. 044-765 4321"}, Modified: t0},
		// Shares Acme's second number: people first.
		{Entity: "lead", ID: "l-carol", Name: "Carol", Phones: []string{"+358501112222"}, Modified: t0},
		// Two contacts on one number: the more recently modified wins.
		{Entity: "contact", ID: "c-old", Name: "Old", Phones: []string{"+46 8 123 456 78"}, Modified: t0},
		{Entity: "contact", ID: "c-new", Name: "New", Phones: []string{"+46812345678"}, Modified: t0.Add(time.Minute)},
		// Same entity, same modification time: by id.
		{Entity: "contact", ID: "c-z", Phones: []string{"+358 20 555 0000"}, Modified: t0},
		{Entity: "contact", ID: "c-y", Phones: []string{"020 555 0000"}, Modified: t0},
		// Nothing usable: skipped.
		{Entity: "contact", ID: "c-ext", Phones: []string{"101", "anonymous", ""}, Modified: t0},
		// Unknown entity: skipped.
		{Entity: "incident", ID: "i-1", Phones: []string{"+358401234567"}, Modified: t0},
		// A number that matches by last digits and exactly elsewhere.
		{Entity: "account", ID: "a-tail", Name: "Tail Ltd", Phones: []string{"tel 09 876 5432"}, Modified: t0.Add(2 * time.Hour)},
	}
	ix := newTestIndex(t, "FI")
	for _, r := range recs {
		ix.Put(r)
	}
	tests := []struct {
		name, number string
		want         []string // candidates, best first; nil: no match
		exact        bool
	}{
		{"e164", "+358401234567", []string{"contact/c-alice"}, true},
		{"national form", "0401234567", []string{"contact/c-alice"}, true},
		{"international prefix", "00358401234567", []string{"contact/c-alice"}, true},
		{"last digits of an unparsed CRM number", "+358447654321", []string{"contact/c-bob"}, false},
		{"last digits, national caller", "044 765 4321", []string{"contact/c-bob"}, false},
		{"person before entity", "+358501112222", []string{"lead/l-carol", "account/a-acme"}, true},
		{"most recently modified", "+46812345678", []string{"contact/c-new", "contact/c-old"}, true},
		{"tie by id", "+358205550000", []string{"contact/c-y", "contact/c-z"}, true},
		{"exact before last digits", "+35898765432", []string{"account/a-acme", "account/a-tail"}, true},
		{"unknown", "+358409999999", nil, false},
		{"extension", "101", nil, false},
		{"anonymous", "anonymous", nil, false},
		{"empty", "", nil, false},
		{"unknown entity ignored", "+358401234567", []string{"contact/c-alice"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := ix.Lookup(tt.number)
			if ok != (tt.want != nil) {
				t.Fatalf("Lookup(%q) ok = %v, want %v (%v)", tt.number, ok, tt.want != nil, ids(m))
			}
			if !ok {
				return
			}
			if got := ids(m); !slices.Equal(got, tt.want) {
				t.Errorf("Lookup(%q) = %v, want %v", tt.number, got, tt.want)
			}
			if !reflect.DeepEqual(m.Best, m.Candidates[0]) {
				t.Errorf("Best %v is not the first candidate", m.Best)
			}
			if m.Best.Exact != tt.exact {
				t.Errorf("Best.Exact = %v, want %v", m.Best.Exact, tt.exact)
			}
		})
	}
	if got, want := ix.Records(), 9; got != want {
		t.Errorf("Records() = %d, want %d", got, want)
	}
}

func TestPutReplacesAndDeletes(t *testing.T) {
	ix := newTestIndex(t, "FI")
	ix.Put(Record{Entity: "contact", ID: "1", Phones: []string{"0401234567"}, Modified: t0})
	ix.Put(Record{Entity: "contact", ID: "2", Phones: []string{"0401234567"}, Modified: t0})
	ix.Put(Record{Entity: "contact", ID: "3", Phones: []string{"0401234567"}, Modified: t0})
	// Record 1 moves to another number.
	ix.Put(Record{Entity: "contact", ID: "1", Phones: []string{"0507654321"}, Modified: t0.Add(time.Hour)})
	if m, _ := ix.Lookup("0401234567"); !slices.Equal(ids(m), []string{"contact/2", "contact/3"}) {
		t.Errorf("after move: %v", ids(m))
	}
	if m, _ := ix.Lookup("0507654321"); !slices.Equal(ids(m), []string{"contact/1"}) {
		t.Errorf("new number: %v", ids(m))
	}
	ix.Delete("contact", "2")
	if m, _ := ix.Lookup("0401234567"); !slices.Equal(ids(m), []string{"contact/3"}) {
		t.Errorf("after delete: %v", ids(m))
	}
	// Losing every number removes the record.
	ix.Put(Record{Entity: "contact", ID: "3", Phones: nil, Modified: t0})
	if _, ok := ix.Lookup("0401234567"); ok {
		t.Error("number still matches after its last record lost it")
	}
	if ix.Records() != 1 || ix.Numbers() != 1 {
		t.Errorf("Records, Numbers = %d, %d; want 1, 1", ix.Records(), ix.Numbers())
	}
	// Slots are reused.
	ix.Put(Record{Entity: "contact", ID: "4", Phones: []string{"0401234567"}, Modified: t0})
	if len(ix.recs) != 3 {
		t.Errorf("recs grew to %d, freed slots not reused", len(ix.recs))
	}
}

func TestTailDigits(t *testing.T) {
	tests := []struct {
		tail        int
		crm, caller string
		match       bool
	}{
		{9, "x0401234567", "+358401234567", true},
		{9, "x0401234567", "+46401234567", true}, // last digits ignore the country: that is the trade-off
		{9, "x0401234568", "+358401234567", false},
		{7, "x 1234567", "+358401234567", true},
		{12, "x0401234567", "+358401234567", true}, // fewer significant digits than asked: all of them
		{9, "x12345", "+35812345", false},          // too short to trust
		{9, "x 09 123 4567", "+35891234567", true}, // 8 significant digits both sides
	}
	for _, tt := range tests {
		ix, err := NewIndex(DefaultEntities(), Options{Region: "FI", TailDigits: tt.tail})
		if err != nil {
			t.Fatal(err)
		}
		ix.Put(Record{Entity: "contact", ID: "1", Phones: []string{tt.crm}, Modified: t0})
		_, ok := ix.Lookup(tt.caller)
		if ok != tt.match {
			t.Errorf("tail %d: CRM %q, caller %q: match %v, want %v", tt.tail, tt.crm, tt.caller, ok, tt.match)
		}
	}
}

func TestNoRegion(t *testing.T) {
	ix := newTestIndex(t, "")
	ix.Put(Record{Entity: "contact", ID: "1", Phones: []string{"0401234567"}, Modified: t0})
	if _, ok := ix.Lookup("+358401234567"); !ok {
		t.Error("without a region the CRM's local number should still match by last digits")
	}
}

func TestNewIndexValidates(t *testing.T) {
	bad := []struct {
		name string
		ents []Entity
		opts Options
	}{
		{"tail too long", DefaultEntities(), Options{TailDigits: 16}},
		{"tail too short", DefaultEntities(), Options{TailDigits: 3}},
		{"region", DefaultEntities(), Options{Region: "XX"}},
		{"no entities", nil, Options{}},
		{"duplicate", append(DefaultEntities(), DefaultEntities()[0]), Options{}},
		{"injection", []Entity{{Name: "contact", EntitySet: "contacts", Key: "contactid", NameField: "fullname", PhoneFields: []string{"telephone1&$x=1"}, Kind: Person}}, Options{}},
		{"kind", []Entity{{Name: "contact", EntitySet: "contacts", Key: "contactid", NameField: "fullname", PhoneFields: []string{"telephone1"}, Kind: "robot"}}, Options{}},
	}
	for _, tt := range bad {
		if _, err := NewIndex(tt.ents, tt.opts); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

// The fields an entity lists are kept with its records and returned by a
// lookup; others, and empty ones, are not. They survive a dump and
// restore, as a restart reads them back.
func TestFieldsKept(t *testing.T) {
	ents := DefaultEntities()
	ents[0].Fields = []string{"emailaddress1", "accountnumber"}
	ix, err := NewIndex(ents, Options{Region: "FI"})
	if err != nil {
		t.Fatal(err)
	}
	ix.Put(Record{Entity: "contact", ID: "c1", Name: "Matti", Phones: []string{"0401234567"}, Modified: t0,
		Fields: map[string]string{"emailaddress1": "matti@example.com", "accountnumber": "", "secret": "x"}})
	ix.Put(Record{Entity: "account", ID: "a1", Name: "Firma", Phones: []string{"0501234567"}, Modified: t0,
		Fields: map[string]string{"emailaddress1": "info@example.com"}})
	want := map[string]string{"emailaddress1": "matti@example.com"}
	m, ok := ix.Lookup("+358401234567")
	if !ok || !reflect.DeepEqual(m.Best.Fields, want) {
		t.Fatalf("contact fields %v, want %v", m.Best.Fields, want)
	}
	if m, ok := ix.Lookup("0501234567"); !ok || m.Best.Fields != nil {
		t.Fatalf("account (no fields configured) has %v", m.Best.Fields)
	}
	back, _ := NewIndex(ents, Options{Region: "FI"})
	back.restore(ix.dump())
	back.restoreFields(ix.dumpFields())
	if m, ok := back.Lookup("0401234567"); !ok || !reflect.DeepEqual(m.Best.Fields, want) {
		t.Fatalf("after restore: %v", m.Best.Fields)
	}
}
