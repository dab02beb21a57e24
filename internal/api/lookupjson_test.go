package api

import (
	"bytes"
	"net/http/httptest"
	"testing"
	"time"
)

// encodedBoth answers res through writeLookup and through writeJSON (what
// /api/lookup used before), and fails t when status, headers or body
// differ.
func encodedBoth(t testing.TB, res LookupResult) []byte {
	t.Helper()
	fast, slow := httptest.NewRecorder(), httptest.NewRecorder()
	writeLookup(fast, &res)
	writeJSON(slow, 200, res)
	if fast.Code != slow.Code || !bytes.Equal(fast.Body.Bytes(), slow.Body.Bytes()) {
		t.Fatalf("%+v:\nwriteLookup %d %q\nencoding/json %d %q", res, fast.Code, fast.Body, slow.Code, slow.Body)
	}
	if f, s := fast.Header(), slow.Header(); len(f) != len(s) || f.Get("Content-Type") != s.Get("Content-Type") {
		t.Fatalf("headers: writeLookup %v, encoding/json %v", f, s)
	}
	return fast.Body.Bytes()
}

func TestLookupJSON(t *testing.T) {
	modified := time.Date(2024, 3, 5, 14, 7, 9, 120_000_000, time.UTC)
	helsinki := time.FixedZone("EET", 2*3600)
	person := Record{Entity: "contact", EntitySet: "contacts", ID: "00000000-0000-0000-0000-000000000001", Name: "Matti Meikäläinen",
		Kind: "person", Modified: modified, Exact: true, Owner: "owner-1", Fields: map[string]string{"title": "CEO", "account": "Acme & <Sons>", "": "empty key"},
		URL: "https://crm.example.com/main.aspx?etn=contact&id=1"}
	org := Record{Entity: "account", EntitySet: "accounts", ID: "2", Kind: "organisation", Modified: time.Unix(1, 0).In(helsinki)}
	for _, res := range []LookupResult{
		{},
		{Number: "+358401234567"},
		{Number: "0401234567", Found: true, Connector: "dyn", Best: &person, Candidates: []Record{person, org}},
		{Number: "+358401234567", Found: true, Connector: "dyn", Best: &org, Candidates: []Record{org}},
		{Number: "+1", Found: true, Best: &Record{}},
		{Number: "+1", Candidates: []Record{}},
		{Number: "+1", Best: &Record{Fields: map[string]string{}}},
		{Number: "\"quoted\" \\ back\b\f\n\r\t\x00\x01\x1f\x7f", Connector: "<script>&</script>"},
		{Number: "bad utf-8: \xff\xfe \xe2\x82 ok: € \u2028 \u2029 \U0001F4DE"},
		{Number: "nanos", Best: &Record{Modified: time.Date(2024, 1, 1, 0, 0, 0, 1, time.FixedZone("", -(3*3600+30*60)))}},
		{Number: "year 0", Best: &Record{Modified: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{Number: "year 9999", Best: &Record{Modified: time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)}},
		// encoding/json refuses these times: the same (empty) answer.
		{Number: "year 10000", Best: &Record{Modified: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{Number: "year -1", Found: true, Candidates: []Record{org, {Modified: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}}},
		{Number: "offset 24h", Best: &Record{Modified: time.Unix(0, 0).In(time.FixedZone("", 24*3600))}},
		{Number: "offset seconds", Best: &Record{Modified: time.Unix(0, 0).In(time.FixedZone("", 3600+1))}},
	} {
		encodedBoth(t, res)
	}
}

// TestLookupJSONRefused: a result encoding/json cannot encode is answered
// by writeJSON, and appendLookup leaves the buffer as it was.
func TestLookupJSONRefused(t *testing.T) {
	res := LookupResult{Number: "+1", Best: &Record{Modified: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}
	b, ok := appendLookup([]byte("kept"), &res)
	if ok || string(b) != "kept" {
		t.Fatalf("appendLookup = %q, %v; want the buffer untouched and false", b, ok)
	}
	if body := encodedBoth(t, res); len(body) != 0 {
		t.Fatalf("body %q, want none (encoding/json fails)", body)
	}
}

func FuzzLookupJSON(f *testing.F) {
	f.Add("+358401234567", "dyn", "Matti Meikäläinen", "title", "CEO", int64(1709647629), int64(120_000_000), 7200, true)
	f.Add("0401234567", "", "", "", "", int64(0), int64(0), 0, false)
	f.Add("<&>\u2028\xff\"\\\n", "a\x00b", "\xe2\x82", "k\x7f", "v\t", int64(-62135596801), int64(1), -12600, true)
	f.Add("+1", "x", "y", "z", "w", int64(253402300800), int64(999_999_999), 86400, false)
	f.Fuzz(func(t *testing.T, number, connector, name, key, value string, sec, nsec int64, offset int, exact bool) {
		mod := time.Unix(sec, nsec).In(time.FixedZone("", offset))
		rec := Record{Entity: connector, EntitySet: key, ID: value, Name: name, Kind: number, Modified: mod, Exact: exact,
			Owner: name, Fields: map[string]string{key: value, value: name, name: key}, URL: value}
		encodedBoth(t, LookupResult{Number: number, Found: exact, Connector: connector, Best: &rec, Candidates: []Record{rec, {Name: key, Modified: mod}}})
		encodedBoth(t, LookupResult{Number: number, Connector: connector})
	})
}
