package salesforce

import (
	"strings"
	"testing"

	"github.com/callbridge/callbridge/crmsync/internal/rest"
)

// Error bodies as Salesforce sends them (REST API Developer Guide, "Status
// Codes and Error Responses"; the 403 as reported by API clients).
var errorSeeds = []string{
	`[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`,
	`[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`,
	`[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`,
	`[{"message":"No such column 'Foo__c' on sobject of type Task","errorCode":"INVALID_FIELD","fields":[]}]`,
	`[{"message":"WhoId: id value of incorrect type: 003-not","errorCode":"MALFORMED_ID","fields":["WhoId"]}]`,
	`[{"message":"unable to obtain exclusive access to this record","errorCode":"UNABLE_TO_LOCK_ROW","fields":[]}]`,
	`{"error":"invalid_client","error_description":"invalid client credentials"}`,
	`[]`, `null`, `{"errorCode":"X"}`, `<html>503</html>`,
}

func FuzzDecodeError(f *testing.F) {
	for _, s := range errorSeeds {
		for _, st := range []int{400, 401, 403, 503} {
			f.Add(st, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		fl := decodeError(&rest.Response{Status: status, Body: body})
		if fl.Class == rest.Retry && fl.Code != "REQUEST_LIMIT_EXCEEDED" && fl.Code != "UNABLE_TO_LOCK_ROW" && fl.Code != "SERVER_UNAVAILABLE" {
			t.Fatalf("retry for %q", fl.Code)
		}
	})
}

func TestDecodeError(t *testing.T) {
	f := decodeError(&rest.Response{Status: 403, Body: []byte(errorSeeds[0])})
	if f.Class != rest.Retry || !f.Throttled || f.After != dailyLimitWait {
		t.Errorf("daily limit: %+v", f)
	}
	if f := decodeError(&rest.Response{Status: 403, Body: []byte(errorSeeds[1])}); f.Class != rest.Retry || f.After != 0 {
		t.Errorf("concurrency limit: %+v", f)
	}
	if f := decodeError(&rest.Response{Status: 401, Body: []byte(errorSeeds[2])}); f.Class != rest.Unauthorized {
		t.Errorf("session: %+v", f)
	}
	if f := decodeError(&rest.Response{Status: 400, Body: []byte(errorSeeds[4])}); f.Class != rest.ByStatus || !strings.HasPrefix(f.Message, "WhoId: ") {
		t.Errorf("malformed id: %+v", f)
	}
}

// soqlString's output is one literal: no quote inside is left unescaped.
func FuzzSOQLString(f *testing.F) {
	for _, s := range []string{"0123456789abcdef", "it's", `back\slash`, "new\nline", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := soqlString(s)
		if len(q) < 2 || q[0] != '\'' || q[len(q)-1] != '\'' {
			t.Fatalf("%q not quoted", q)
		}
		inner := q[1 : len(q)-1]
		for i := 0; i < len(inner); i++ {
			switch inner[i] {
			case '\\':
				i++ // an escape pair
			case '\'', '\n', '\r':
				t.Fatalf("%q: raw %q at %d", q, inner[i], i)
			}
		}
	})
}
