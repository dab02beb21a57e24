package phoneindex

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// sortedDump is dump in id order, for comparing two indexes.
func sortedDump(ix *Index) []storedRecord {
	d := ix.dump()
	slices.SortFunc(d, func(a, b storedRecord) int {
		return cmp.Or(strings.Compare(a.Entity, b.Entity), strings.Compare(a.ID, b.ID))
	})
	return d
}

// saveLoad writes ix to a cache file and reads it back.
func saveLoad(t *testing.T, ix *Index) *Index {
	t.Helper()
	st := FileStore{Dir: t.TempDir()}
	settings := Settings{Entities: DefaultEntities(), Region: "FI"}
	if err := st.Save(context.Background(), "x", &Snapshot{Settings: settings, index: ix}); err != nil {
		t.Fatal(err)
	}
	s, err := st.Load(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	if s.index == nil {
		t.Fatal("no index loaded")
	}
	return s.index
}

// A cache file many times the reader's buffer comes back record for
// record: text ids (Salesforce's, HubSpot's) and names that straddle a
// refill of the buffer are not read from bytes it has overwritten.
func TestCacheRoundTripLarge(t *testing.T) {
	ix, _ := NewIndex(DefaultEntities(), Options{Region: "FI"})
	for i := range 50_000 {
		ix.Put(Record{Entity: "contact", ID: fmt.Sprintf("003A%011d", i), Name: fmt.Sprintf("Contact number %d", i),
			Phones: []string{fmt.Sprintf("+35840%07d", i)}, Modified: t0})
		if i%100 == 0 {
			ix.Put(Record{Entity: "lead", ID: fmt.Sprint(i), Phones: []string{fmt.Sprintf("555 %06d", i)}})
		}
	}
	got, want := sortedDump(saveLoad(t, ix)), sortedDump(ix)
	if len(got) != len(want) {
		t.Fatalf("%d records loaded, want %d", len(got), len(want))
	}
	bad := 0
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			if bad < 3 {
				t.Errorf("loaded %+v, saved %+v", got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d records differ", bad, len(want))
	}
}
