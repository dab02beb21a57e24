package phoneindex

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
)

// recordingNumbers seeds fuzzers with every number the lab PBX presented.
func recordingNumbers(f *testing.F) []string {
	files, _ := filepath.Glob("../../testdata/recordings/*/ari.jsonl")
	re := regexp.MustCompile(`"(?:number|exten)":"([^"]*)"`)
	seen := map[string]bool{}
	var out []string
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			if s := string(m[1]); !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return append(out, "+358401234567", "0401234567", "tel 09 876 5432", "00358401234567", "anonymous", "", "+0", "+999999999999999999")
}

// FuzzIndex feeds arbitrary CRM numbers and caller numbers: nothing panics,
// a number stored in E.164 form is found again, and answers are ranked.
func FuzzIndex(f *testing.F) {
	nums := recordingNumbers(f)
	for i, n := range nums {
		f.Add(n, nums[(i+1)%len(nums)])
	}
	f.Fuzz(func(t *testing.T, crm, caller string) {
		ix, err := NewIndex(DefaultEntities(), Options{Region: "FI"})
		if err != nil {
			t.Fatal(err)
		}
		ix.Put(Record{Entity: "contact", ID: "1", Phones: []string{crm, caller}})
		ix.Put(Record{Entity: "account", ID: "2", Phones: []string{crm}})
		for _, n := range []string{crm, caller} {
			m, ok := ix.Lookup(n)
			if ok && (len(m.Candidates) == 0 || !reflect.DeepEqual(m.Best, m.Candidates[0])) {
				t.Fatalf("Lookup(%q) = %+v", n, m)
			}
			if ok && m.Best.Entity != "contact" && m.Best.Exact == m.Candidates[len(m.Candidates)-1].Exact {
				t.Fatalf("Lookup(%q): account ranked before contact: %+v", n, m)
			}
		}
		// A number stored in international form is found by that form;
		// one in national form by what the normaliser makes of it.
		want, ok := compact(crm), isE164(compact(crm))
		if !ok {
			want, ok = ix.norm.Normalize(crm)
		}
		if ok {
			if _, found := ix.LookupE164(want); !found {
				t.Fatalf("stored %q (%s) not found", crm, want)
			}
		}
		ix.Delete("contact", "1")
		ix.Delete("account", "2")
		if ix.Records() != 0 || ix.Numbers() != 0 || ix.mem.exact.n != 0 || ix.mem.tails.n != 0 {
			t.Fatalf("index not empty after deleting everything: %d %d %d %d", ix.Records(), ix.Numbers(), ix.mem.exact.n, ix.mem.tails.n)
		}
	})
}

// FuzzSnapshot feeds damaged cache files to the loader, in the current
// format (records with and without attributes), version 1 and the gzipped
// JSON of earlier versions: an error, never a panic; what loads answers
// lookups with the attributes it holds, and saves and loads again
// unchanged.
func FuzzSnapshot(f *testing.F) {
	dir := f.TempDir()
	ix, _ := NewIndex(DefaultEntities(), Options{Region: "FI"})
	for i, n := range recordingNumbers(f) {
		ix.Put(Record{Entity: "contact", ID: n, Phones: []string{n}})
		r := Record{Entity: "lead", ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), Name: "Lead", Phones: []string{n}}
		switch i % 4 {
		case 1:
			r.URL, r.Org = "https://crm.example/lead/"+n, "acct"
		case 2:
			r.Owner, r.Fields = "user", map[string]string{"city": "Oulu", "title": ""}
		case 3:
			r.URL, r.Org, r.Owner, r.Fields = "u", "o", "w", map[string]string{"k": n}
		}
		ix.Put(r)
	}
	st := FileStore{Dir: dir}
	settings := Settings{Entities: DefaultEntities(), Region: "FI"}
	if err := st.Save(context.Background(), "seed", &Snapshot{Settings: settings, index: ix}); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(filepath.Join(dir, "seed.cache"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	var legacy bytes.Buffer
	zw := gzip.NewWriter(&legacy)
	_ = json.NewEncoder(zw).Encode(&Snapshot{Settings: settings, Records: ix.dump()})
	_ = zw.Close()
	f.Add(legacy.Bytes())
	if v1, err := os.ReadFile("testdata/v1.cache"); err == nil {
		f.Add(v1)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkSnapshot(t, b)
		// The checksum stops most changes at the door: the same bytes
		// with it made right again reach the records' parser.
		if len(b) >= len(magic)+4 && (string(b[:len(magic)]) == magic || string(b[:len(magic)]) == magicV1) {
			b = bytes.Clone(b)
			binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[len(magic):len(b)-4], castagnoli))
			checkSnapshot(t, b)
		}
	})
}

func checkSnapshot(t *testing.T, b []byte) {
	s, err := decodeSnapshot(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not say the file is corrupt", err)
		}
		return
	}
	ix, settings := s.index, s.Settings
	if ix == nil {
		settings = Settings{Entities: DefaultEntities(), Region: "FI"}
		ix, _ = NewIndex(settings.Entities, Options{Region: settings.Region})
		ix.restore(s.Records)
	}
	for _, r := range ix.dump() {
		for _, k := range r.Exact {
			m, ok := ix.LookupE164("+" + itoa(k))
			if !ok && k > 99 && k < 1e15 {
				t.Fatalf("+%d of a loaded record not found", k)
			}
			for _, c := range m.Candidates {
				if c.Entity == r.Entity && c.ID == r.ID && (c.URL != r.URL || c.Org != r.Org || c.Owner != r.Owner || !reflect.DeepEqual(c.Fields, r.Fields)) {
					t.Fatalf("lookup of %s gave attributes %+v, the record holds %+v", r.ID, c, r.attrs)
				}
			}
		}
	}
	var again bytes.Buffer
	if err := encodeSnapshot(&again, &Snapshot{Settings: settings, State: s.State, index: ix}); err != nil {
		t.Fatal(err)
	}
	s2, err := decodeSnapshot(&again, int64(again.Len()))
	if err != nil {
		t.Fatalf("a loaded snapshot saved unreadably: %v", err)
	}
	if s2.index != nil && !reflect.DeepEqual(sortedDump(s2.index), sortedDump(ix)) {
		t.Fatal("a loaded snapshot changed on saving and loading again")
	}
}

func itoa(k uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + k%10)
		k /= 10
		if k == 0 {
			return string(b[i:])
		}
	}
}
