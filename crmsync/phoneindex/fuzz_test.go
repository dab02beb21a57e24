package phoneindex

import (
	"bytes"
	"compress/gzip"
	"context"
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
		if ix.Records() != 0 || ix.Numbers() != 0 || len(ix.exact) != 0 || len(ix.tails) != 0 {
			t.Fatalf("index not empty after deleting everything: %d %d %d %d", ix.Records(), ix.Numbers(), len(ix.exact), len(ix.tails))
		}
	})
}

// FuzzSnapshot feeds damaged cache files to the loader: an error, never a
// panic.
func FuzzSnapshot(f *testing.F) {
	dir := f.TempDir()
	ix, _ := NewIndex(DefaultEntities(), Options{Region: "FI"})
	for _, n := range recordingNumbers(f) {
		ix.Put(Record{Entity: "contact", ID: n, Phones: []string{n}})
	}
	st := FileStore{Dir: dir}
	if err := st.Save(context.Background(), "seed", &Snapshot{Records: ix.dump()}); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(filepath.Join(dir, "seed.json.gz"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	var raw bytes.Buffer
	zr, _ := gzip.NewReader(bytes.NewReader(seed))
	_, _ = raw.ReadFrom(zr)
	f.Add(raw.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		var in []byte
		if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
			in = b
		} else {
			var z bytes.Buffer
			w := gzip.NewWriter(&z)
			_, _ = w.Write(b)
			_ = w.Close()
			in = z.Bytes()
		}
		s, err := decodeSnapshot(bytes.NewReader(in))
		if err != nil {
			return
		}
		ix, _ := NewIndex(DefaultEntities(), Options{Region: "FI"})
		ix.restore(s.Records)
		for _, r := range s.Records {
			for _, k := range r.Exact {
				ix.LookupE164("+" + itoa(k))
			}
		}
	})
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
