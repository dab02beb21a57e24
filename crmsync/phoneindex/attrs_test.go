package phoneindex

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// attrCases are records with each attribute alone, all of them, and none.
func attrCases() []Record {
	m := t0
	return []Record{
		{Entity: "contact", ID: "c-url", Name: "Url", Phones: []string{"+358401000001"}, Modified: m,
			URL: "https://crm.example/main.aspx?etn=contact&id=c-url"},
		{Entity: "contact", ID: "c-org", Name: "Org", Phones: []string{"+358401000002"}, Modified: m,
			Org: "0f8fad5b-d9cb-469f-a165-70867728950e"},
		{Entity: "lead", ID: "l-owner", Name: "Owner", Phones: []string{"+358401000003"}, Modified: m,
			Owner: "systemuser-42"},
		{Entity: "account", ID: "a-fields", Name: "Fields", Phones: []string{"+358401000004"}, Modified: m,
			Fields: map[string]string{"jobtitle": "Buyer", "city": "Oulu", "empty": "", "ä ö": "ünï\x00code"}},
		{Entity: "contact", ID: "7c9e6679-7425-40de-944b-e07fc1f90ae7", Name: "All", Phones: []string{"+358401000005", "x 0501 234 567"}, Modified: m,
			URL: "https://crm.example/c/7c9e", Org: "acct-1", Owner: "user-1", Fields: map[string]string{"a": "1", "b": "2"}},
		{Entity: "contact", ID: "c-none", Name: "None", Phones: []string{"+358401000006"}, Modified: m},
	}
}

// checkAttrCases looks every case up in ix and compares its attributes.
func checkAttrCases(t *testing.T, how string, lookup func(string) (Match, bool)) {
	t.Helper()
	for _, r := range attrCases() {
		m, ok := lookup(r.Phones[0])
		if !ok {
			t.Errorf("%s: %s not found", how, r.ID)
			continue
		}
		c := m.Best
		if c.ID != r.ID || c.Name != r.Name || c.URL != r.URL || c.Org != r.Org || c.Owner != r.Owner || !reflect.DeepEqual(c.Fields, r.Fields) {
			t.Errorf("%s: %s came back as %+v, want URL %q Org %q Owner %q Fields %v", how, r.ID, c, r.URL, r.Org, r.Owner, r.Fields)
		}
	}
}

func attrIndex(t *testing.T) *Index {
	t.Helper()
	ix, err := NewIndex(DefaultEntities(), Options{Region: "FI"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range attrCases() {
		ix.Put(r)
	}
	return ix
}

func TestAttributesPutLookup(t *testing.T) {
	ix := attrIndex(t)
	checkAttrCases(t, "Put", ix.Lookup)
	// A last-digits match carries them too.
	if m, ok := ix.Lookup("+358501234567"); !ok || m.Best.Exact || m.Best.Owner != "user-1" || m.Best.Fields["b"] != "2" {
		t.Errorf("tail match: %+v %v", m.Best, ok)
	}
	// Replacing a record replaces its attributes, also with none.
	ix.Put(Record{Entity: "contact", ID: "7c9e6679-7425-40de-944b-e07fc1f90ae7", Name: "All", Phones: []string{"+358401000005"}, Modified: t0, Owner: "user-2"})
	ix.Put(Record{Entity: "account", ID: "a-fields", Name: "Fields", Phones: []string{"+358401000004"}, Modified: t0})
	if m, _ := ix.Lookup("+358401000005"); m.Best.Owner != "user-2" || m.Best.URL != "" || m.Best.Org != "" || m.Best.Fields != nil {
		t.Errorf("replaced: %+v", m.Best)
	}
	if m, _ := ix.Lookup("+358401000004"); m.Best.Fields != nil {
		t.Errorf("fields kept after a replacement without them: %+v", m.Best)
	}
	// A caller's changes to a returned map do not reach the index.
	ix.Put(attrCases()[3])
	m, _ := ix.Lookup("+358401000004")
	m.Best.Fields["city"] = "Turku"
	if m, _ := ix.Lookup("+358401000004"); m.Best.Fields["city"] != "Oulu" {
		t.Errorf("index changed through a candidate: %v", m.Best.Fields)
	}
}

// The JSON names are short in Record (as its others) and spelled out in
// Candidate, which the lookup API and webhook bodies show.
func TestAttributesJSON(t *testing.T) {
	r := attrCases()[4]
	b, _ := json.Marshal(Record{URL: r.URL, Org: r.Org, Owner: r.Owner, Fields: map[string]string{"a": "1"}})
	for _, k := range []string{`"u":`, `"o":`, `"w":`, `"f":{"a":"1"}`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("Record JSON %s lacks %s", b, k)
		}
	}
	m, _ := attrIndex(t).Lookup(r.Phones[0])
	b, _ = json.Marshal(m.Best)
	for _, k := range []string{`"url":`, `"org":"acct-1"`, `"owner":"user-1"`, `"fields":{"a":"1","b":"2"}`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("Candidate JSON %s lacks %s", b, k)
		}
	}
	m, _ = attrIndex(t).Lookup("+358401000006")
	b, _ = json.Marshal(m.Best)
	for _, k := range []string{"url", "org", "owner", "fields"} {
		if strings.Contains(string(b), `"`+k+`"`) {
			t.Errorf("Candidate JSON %s has an empty %s", b, k)
		}
	}
}

func TestAttributesCacheFile(t *testing.T) {
	ix := attrIndex(t)
	back := saveLoad(t, ix)
	checkAttrCases(t, "cache file", back.Lookup)
	if !reflect.DeepEqual(sortedDump(back), sortedDump(ix)) {
		t.Errorf("cache file changed the records:\n%+v\n%+v", sortedDump(back), sortedDump(ix))
	}
	// Written again from what was loaded: the same bytes.
	var a, b bytes.Buffer
	settings := Settings{Entities: DefaultEntities(), Region: "FI"}
	_ = encodeSnapshot(&a, &Snapshot{Settings: settings, index: ix})
	_ = encodeSnapshot(&b, &Snapshot{Settings: settings, index: back})
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("a loaded index saves differently")
	}
}

func TestAttributesRebuild(t *testing.T) {
	ix := attrIndex(t)
	ix.Compact()
	checkAttrCases(t, "Compact", ix.Lookup)
	// Enough replacements to rebuild on their own.
	for i := range 3000 {
		ix.Put(Record{Entity: "lead", ID: "churn", Phones: []string{fmt.Sprintf("+35850%07d", i)}, Modified: t0, Owner: "u"})
	}
	if ix.dead > 1024 {
		t.Fatalf("no rebuild: %d dead", ix.dead)
	}
	checkAttrCases(t, "rebuild", ix.Lookup)
	if m, ok := ix.Lookup(fmt.Sprintf("+35850%07d", 2999)); !ok || m.Best.Owner != "u" {
		t.Errorf("churned record: %+v %v", m.Best, ok)
	}
}

// A legacy snapshot (gzipped JSON, the form of dump) with attributes
// restores them.
func TestAttributesDumpRestore(t *testing.T) {
	ix := attrIndex(t)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(&Snapshot{Settings: Settings{Region: "FI"}, Records: ix.dump()}); err != nil {
		t.Fatal(err)
	}
	_ = zw.Close()
	s, err := decodeSnapshot(&buf, int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	back, _ := NewIndex(DefaultEntities(), Options{Region: "FI"})
	back.restore(s.Records)
	checkAttrCases(t, "dump and restore", back.Lookup)
}

// sinceSource records what each listing asked for.
type sinceSource struct {
	*memSource
	mu     sync.Mutex
	listed []time.Time
}

func (s *sinceSource) Records(ctx context.Context, e Entity, since time.Time, fn func([]Record) error) error {
	s.mu.Lock()
	s.listed = append(s.listed, since)
	s.mu.Unlock()
	return s.memSource.Records(ctx, e, since, fn)
}

func (s *sinceSource) fullListings() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.listed {
		if t.IsZero() {
			n++
		}
	}
	return n
}

// Attributes come in with full and incremental syncs and are there after
// a restart.
func TestAttributesSync(t *testing.T) {
	ctx := context.Background()
	src := &memSource{}
	for _, r := range attrCases() {
		src.put(r)
	}
	store := FileStore{Dir: t.TempDir()}
	c := &clock{t: t0.Add(time.Hour)}
	settings := Settings{Region: "FI", Enabled: true}
	in := openT(t, src, store, settings, c)
	if err := in.Sync(ctx, true); err != nil {
		t.Fatal(err)
	}
	checkAttrCases(t, "full sync", in.Lookup)
	checkAttrCases(t, "restart", openT(t, src, store, settings, c).Lookup)

	c.add(time.Hour)
	src.put(Record{Entity: "contact", ID: "c-none", Name: "None", Phones: []string{"+358401000006"}, Modified: t0.Add(time.Hour),
		Owner: "user-9", Fields: map[string]string{"k": "v"}})
	if err := in.Sync(ctx, false); err != nil {
		t.Fatal(err)
	}
	for _, in := range []*Integration{in, openT(t, src, store, settings, c)} {
		if m, _ := in.Lookup("+358401000006"); m.Best.Owner != "user-9" || m.Best.Fields["k"] != "v" {
			t.Errorf("incremental: %+v", m.Best)
		}
	}
}

// A cache file of version 1 (testdata/v1.cache, written before record
// attributes) loads, answers at once, and the next sync reads everything
// again so the attributes come in.
func TestCacheV1Loads(t *testing.T) {
	old, err := os.ReadFile("testdata/v1.cache")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dyn.cache"), old, 0o600); err != nil {
		t.Fatal(err)
	}
	src := &sinceSource{memSource: &memSource{}}
	src.put(Record{Entity: "contact", ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Name: "Maija Meikäläinen",
		Phones: []string{"040 123 4567"}, Modified: t0, URL: "https://crm.example/maija"})
	c := &clock{t: t0}
	// The entities as the v1 file was written with them, before the
	// defaults read owners (new entities drop a cache: its records lack
	// what they read).
	ents := DefaultEntities()
	for i := range ents {
		ents[i].OwnerField = ""
	}
	in := openT(t, src, FileStore{Dir: dir}, Settings{Region: "FI", Enabled: true, Entities: ents}, c)
	m, ok := in.Lookup("0401234567")
	if !ok || len(m.Candidates) != 2 || m.Best.ID != "0f8fad5b-d9cb-469f-a165-70867728950e" || m.Best.Name != "Maija Meikäläinen" ||
		m.Candidates[1].Name != "Acme Oy" || m.Best.URL != "" {
		t.Fatalf("v1 lookup: %+v %v", m, ok)
	}
	if m, ok := in.Lookup("+35898765432"); !ok || m.Best.Name != "Maija Meikäläinen" {
		t.Errorf("v1 second number: %+v %v", m, ok)
	}
	if st := in.Status(); st.Records != 3 || !st.LastFull.IsZero() {
		t.Errorf("v1 status: %+v", st)
	}
	if err := in.Sync(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if n := src.fullListings(); n != len(DefaultEntities()) {
		t.Errorf("sync after a v1 cache listed %d entities in full, want all %d", n, len(DefaultEntities()))
	}
	if m, _ := in.Lookup("0401234567"); m.Best.URL != "https://crm.example/maija" {
		t.Errorf("after the sync: %+v", m.Best)
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, "dyn.cache")); !bytes.HasPrefix(raw, []byte(magic)) {
		t.Errorf("the cache was not rewritten in the current format: %q", raw[:8])
	}
}

func TestAttrsEncoding(t *testing.T) {
	if b := (&attrs{}).encode(); b != nil {
		t.Errorf("empty attributes encode to %q", b)
	}
	fields := map[string]string{}
	for i := range 50 {
		fields[fmt.Sprint("k", i)] = fmt.Sprint(i)
	}
	a := attrs{URL: "u", Owner: "w", Fields: fields}
	first := a.encode()
	for range 20 {
		if !bytes.Equal(a.encode(), first) {
			t.Fatal("the same attributes encoded differently")
		}
	}
	if err := checkAttrs(first); err != nil {
		t.Fatal(err)
	}
	if got := decodeAttrs(first); !reflect.DeepEqual(got, a) {
		t.Errorf("decoded %+v", got)
	}
	// Beyond maxAttrs: URL, Org and Owner stay, fields go in key order
	// from the last, and what is kept still loads.
	big := attrs{URL: "https://x", Org: "o", Owner: "w", Fields: map[string]string{
		"a": strings.Repeat("a", 30<<10), "b": strings.Repeat("b", 30<<10), "c": strings.Repeat("c", 30<<10), "d": "small"}}
	b := big.encode()
	if len(b) > maxAttrs || checkAttrs(b) != nil {
		t.Fatalf("oversized blob: %d bytes, %v", len(b), checkAttrs(b))
	}
	got := decodeAttrs(b)
	if got.URL != big.URL || got.Org != "o" || got.Owner != "w" || got.Fields["a"] == "" || got.Fields["b"] == "" || got.Fields["d"] != "small" {
		t.Errorf("kept %q %q %q and fields %d", got.URL, got.Org, got.Owner, len(got.Fields))
	}
	if _, ok := got.Fields["c"]; ok {
		t.Error("a field beyond the bound was kept")
	}
	ix := attrIndex(t)
	ix.Put(Record{Entity: "contact", ID: "big", Phones: []string{"+358401999999"}, URL: big.URL, Fields: big.Fields})
	if back := saveLoad(t, ix); back.Records() != ix.Records() {
		t.Errorf("%d records loaded, want %d", back.Records(), ix.Records())
	}
}

func TestCheckAttrsRejects(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    []byte
	}{
		{"unknown tag", []byte{9, 1, 'x'}},
		{"tag 0", []byte{0, 1, 'x'}},
		{"truncated value", []byte{attrURL, 5, 'x'}},
		{"no length", []byte{attrURL}},
		{"empty URL", []byte{attrURL, 0}},
		{"tags out of order", []byte{attrOwner, 1, 'w', attrURL, 1, 'u'}},
		{"URL twice", []byte{attrURL, 1, 'u', attrURL, 1, 'v'}},
		{"field keys out of order", []byte{attrField, 1, 'b', 0, attrField, 1, 'a', 0}},
		{"field key twice", []byte{attrField, 1, 'a', 0, attrField, 1, 'a', 0}},
		{"field without value", []byte{attrField, 1, 'a'}},
		{"huge length", []byte{attrURL, 0xff, 0xff, 0xff, 0xff, 0x0f, 'x'}},
		{"too long", append([]byte{attrURL, 0x81, 0x80, 0x04}, make([]byte, maxAttrs+1)...)},
	} {
		if err := checkAttrs(tt.b); err == nil {
			t.Errorf("%s: %q accepted", tt.name, tt.b)
		}
	}
	ok := []byte{attrURL, 1, 'u', attrOrg, 1, 'o', attrOwner, 1, 'w', attrField, 0, 0, attrField, 1, 'a', 1, 'x'}
	if err := checkAttrs(ok); err != nil {
		t.Errorf("well-formed blob refused: %v", err)
	}
}
