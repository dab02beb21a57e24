package api

import (
	"net/url"
	"os"
	"strings"
)

// queryScanPairs is how many parameters a query may have for queryGet to
// read it itself. url.ParseQuery refuses a query of more than its limit
// (10,000 by default) and GODEBUG=urlmaxqueryparams can lower that, so a
// long query, or any under that setting, is left to url.ParseQuery.
const queryScanPairs = 64

var queryLimitSet = strings.Contains(os.Getenv("GODEBUG"), "urlmaxqueryparams")

// queryGet is u.Query().Get(key) without building the map of every
// parameter: the dialplan's requests read one or two of them, each a
// call waiting. It returns what url.ParseQuery would: the first
// parameter named key whose name and value unescape, skipping pairs with
// a semicolon. TestQueryGet and FuzzQueryGet hold it to that.
func queryGet(u *url.URL, key string) string {
	raw := u.RawQuery
	if queryLimitSet || strings.Count(raw, "&") >= queryScanPairs {
		return u.Query().Get(key)
	}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.IndexByte(pair, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") { // unescaped, it may be key
			if uk, err := url.QueryUnescape(k); err != nil || uk != key {
				continue
			}
		} else if k != key {
			continue
		}
		if value, err := url.QueryUnescape(v); err == nil {
			return value
		}
	}
	return ""
}
