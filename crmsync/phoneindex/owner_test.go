package phoneindex

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// Owners and field values, as a source gives them, come back with every
// match and survive the cache; Ready says when a miss means an unknown
// caller rather than an index still loading.
func TestOwnersFieldsAndReady(t *testing.T) {
	ents := DefaultEntities()
	ents[2].Fields = []string{"accountcategorycode"}
	src := &memSource{}
	src.put(Record{Entity: "contact", ID: "c1", Name: "Alice", Phones: []string{"0401234567"}, Owner: "u-bob", Modified: t0})
	src.put(Record{Entity: "account", ID: "a1", Name: "Acme", Phones: []string{"09 876 5432"}, Owner: "u-bob", Modified: t0,
		Fields: map[string]string{"accountcategorycode": "1"}})
	src.put(Record{Entity: "account", ID: "a2", Name: "Beta", Phones: []string{"09 111 2222"}, Modified: t0})
	store := FileStore{Dir: t.TempDir()}
	c := &clock{t: t0.Add(time.Hour)}
	settings := Settings{Region: "FI", Enabled: true, Entities: ents}
	in := openT(t, src, store, settings, c)
	if in.Ready() {
		t.Fatal("ready before the first sync")
	}
	if err := in.Sync(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if !in.Ready() {
		t.Fatal("not ready after a sync")
	}
	check := func(in *Integration) {
		t.Helper()
		m, ok := in.Lookup("040 1234567")
		if !ok || m.Best.Owner != "u-bob" || m.Best.Fields != nil {
			t.Errorf("contact: %+v", m.Best)
		}
		m, ok = in.Lookup("+35898765432")
		if !ok || m.Best.Owner != "u-bob" || !reflect.DeepEqual(m.Best.Fields, map[string]string{"accountcategorycode": "1"}) {
			t.Errorf("account: %+v", m.Best)
		}
		m, ok = in.Lookup("+35891112222")
		if !ok || m.Best.Owner != "" || m.Best.Fields != nil {
			t.Errorf("account without owner: %+v", m.Best)
		}
	}
	check(in)
	// A restart answers from the cache, owners and fields included, and
	// is ready at once.
	in2 := openT(t, &memSource{fail: context.Canceled}, store, settings, c)
	if !in2.Ready() {
		t.Error("not ready from the cache")
	}
	check(in2)
	// Disabled: not ready.
	if err := in2.Disable(context.Background()); err != nil {
		t.Fatal(err)
	}
	if in2.Ready() {
		t.Error("a disabled index is ready")
	}
}
