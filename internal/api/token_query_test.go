package api

import (
	"net/url"
	"testing"
)

// tokenQueries are raw queries with and without a token key, as they
// arrive escaped or not.
var tokenQueries = []string{
	"", "number=%2B358401234567", "anum=+358401234567&bnum=%2B35850111222", "user=101",
	"token=x", "access_token=x", "number=1&access_token=x", "token", "a=1&&token=",
	"%74oken=x", "access%5Ftoken=x", "to%6Ben=", "x=token", "x=%74oken", "to+ken=x", "token+=x",
	"token;=x", "a=1;token=x", "%zz=1&token=2", "tokens=x", "my_token=x", "=token",
}

// TestMayHoldToken: a query it passes over never has a token key once
// parsed, so the guard refuses exactly what it refused when it parsed
// every query.
func TestMayHoldToken(t *testing.T) {
	for _, raw := range tokenQueries {
		q, _ := url.ParseQuery(raw)
		if urlHasToken(q) && !mayHoldToken(raw) {
			t.Errorf("%q has a token key, mayHoldToken says no", raw)
		}
	}
	for _, raw := range []string{"", "number=%2B358401234567", "anum=+358401234567&bnum=%2B35850111222", "x=token", "x=%74oken", "user=101&verbose"} {
		if mayHoldToken(raw) {
			t.Errorf("mayHoldToken(%q): want false, so that the query is not parsed for nothing", raw)
		}
	}
}

func FuzzMayHoldToken(f *testing.F) {
	for _, raw := range tokenQueries {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		if urlHasToken(q) && !mayHoldToken(raw) {
			t.Fatalf("%q has a token key, mayHoldToken says no", raw)
		}
	})
}
