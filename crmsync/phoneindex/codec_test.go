package phoneindex

import (
	"bufio"
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
	"time"
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

// Read through a buffer of 16 bytes (bufio's least), nearly every varint,
// id, name and key crosses a refill, and the record that used to go
// through a larger buffer still comes back the same, its checksum agreeing.
func TestDecodeSmallBuffer(t *testing.T) {
	ix, _ := NewIndex(DefaultEntities(), Options{Region: "FI"})
	for i := range 2_000 {
		ix.Put(Record{Entity: "contact", ID: fmt.Sprintf("003A%011d", i), Name: strings.Repeat("n", i%40) + fmt.Sprint(i),
			Phones: []string{fmt.Sprintf("+35840%07d", i), fmt.Sprintf("+35850%07d", i)}, Modified: t0.Add(time.Duration(i) * time.Second),
			URL: fmt.Sprintf("https://crm.example/%d", i)})
	}
	var file bytes.Buffer
	settings := Settings{Entities: DefaultEntities(), Region: "FI"}
	if err := encodeSnapshot(&file, &Snapshot{Settings: settings, index: ix}); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(bytes.NewReader(file.Bytes()), 16)
	if _, err := br.Discard(len(magic)); err != nil {
		t.Fatal(err)
	}
	s, err := decodeBinary(br, true, int64(file.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sortedDump(s.index), sortedDump(ix); !reflect.DeepEqual(got, want) {
		t.Fatalf("%d records back, want %d, or they differ", len(got), len(want))
	}
	// One byte changed anywhere past the header is a checksum mismatch
	// or a refused record, whichever comes first: never a silent load.
	b := bytes.Clone(file.Bytes())
	b[len(b)/2] ^= 0x40
	br = bufio.NewReaderSize(bytes.NewReader(b), 16)
	_, _ = br.Discard(len(magic))
	if _, err := decodeBinary(br, true, int64(len(b))); err == nil {
		t.Fatal("a changed byte loaded")
	}
}
