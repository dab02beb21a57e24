package phoneindex

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
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

// A header that claims far more records than its file holds, behind a
// valid checksum, is refused before the arrays are sized from it (it
// used to reserve tens of gigabytes and end the process out of memory).
func TestCacheHeaderBeyondFile(t *testing.T) {
	for _, h := range []header{
		{Records: 90_000_000, Arena: 90_000_000 * 4000, Keys: 1_400_000_000},
		{Records: 1, Keys: 1_400_000_000},
		{Records: 1_000_000, Keys: 1},
	} {
		h.Settings, h.Entities = Settings{Entities: DefaultEntities(), Region: "FI"}, []string{"contact"}
		hj, _ := json.Marshal(h)
		body := binary.AppendUvarint(nil, uint64(len(hj)))
		body = append(body, hj...)
		file := append([]byte(magic), body...)
		file = binary.LittleEndian.AppendUint32(file, crc32.Checksum(body, castagnoli))
		if _, err := decodeSnapshot(bytes.NewReader(file), int64(len(file))); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "do not fit") {
			t.Errorf("%d records, %d keys in %d bytes: %v", h.Records, h.Keys, len(file), err)
		}
	}
}
