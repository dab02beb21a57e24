package creatio

import (
	"testing"

	"github.com/callbridge/callbridge/crmsync/internal/rest"
)

// Error bodies as Creatio's OData 4 service sends them.
var errorSeeds = []string{
	`{"error":{"code":"","message":"The property 'Nope' does not exist on type 'Terrasoft.Configuration.Call'."}}`,
	`{"error":{"code":"","message":"Violation of PRIMARY KEY constraint 'PKCall'. Cannot insert duplicate key"}}`,
	`{"error":{"code":"","message":"Unauthorized"}}`,
	`{"error":null}`, `{}`, `<html>`,
}

func FuzzDecodeError(f *testing.F) {
	for _, s := range errorSeeds {
		f.Add(400, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		fl := decodeError(&rest.Response{Status: status, Body: body})
		if fl.Class != rest.ByStatus || fl.After != 0 {
			t.Fatalf("%+v", fl)
		}
	})
}

func TestRecordID(t *testing.T) {
	a, b := RecordID("x", "call"), RecordID("x", "activity")
	if a == b || a != RecordID("x", "call") || len(a) != 36 || a[14] != '5' {
		t.Errorf("%s %s", a, b)
	}
}
