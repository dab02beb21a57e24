package api

import (
	"net/url"
	"strings"
	"testing"
)

var getQueries = []string{
	"", "number=%2B358401234567", "number=+358401234567", "number= 358401234567", "anum=%2B358401234567&bnum=%2B35850111222",
	"number", "number=", "number=a=b", "&&number=1&&", "num%62er=1", "number=1&number=2", "number=%zz&number=2", "num%zzber=1&number=3",
	"number=1;x&number=2", "a;b=1&number=4", "number+=1&number=5", "%41=1", "%2541=1", "numb+er=1", "%6Eumber=%31", "x=number&number=6",
	"number=" + strings.Repeat("1&", queryScanPairs) + "number=7", // left to url.ParseQuery
}

func TestQueryGet(t *testing.T) {
	for _, raw := range getQueries {
		for _, key := range []string{"number", "anum", "bnum", "numb er", "number ", "%41", ""} {
			u := &url.URL{RawQuery: raw}
			if got, want := queryGet(u, key), u.Query().Get(key); got != want {
				t.Errorf("queryGet(%q, %q) = %q, url.Values.Get says %q", raw, key, got, want)
			}
		}
	}
}

func FuzzQueryGet(f *testing.F) {
	for _, raw := range getQueries {
		f.Add(raw, "number")
	}
	f.Add("a%20b=1", "a b")
	f.Add("%2541=1", "%41")
	f.Fuzz(func(t *testing.T, raw, key string) {
		u := &url.URL{RawQuery: raw}
		if got, want := queryGet(u, key), u.Query().Get(key); got != want {
			t.Fatalf("queryGet(%q, %q) = %q, url.Values.Get says %q", raw, key, got, want)
		}
	})
}
