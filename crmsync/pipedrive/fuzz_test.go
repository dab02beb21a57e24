package pipedrive

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync/internal/rest"
)

// Error bodies as Pipedrive sends them ({success, error, error_info}).
var errorSeeds = []string{
	`{"success":false,"error":"unauthorized access","errorCode":401,"error_info":"Please check developers.pipedrive.com for more information about Pipedrive API.","data":null,"additional_data":null}`,
	`{"success":false,"error":"Request over limit","errorCode":429}`,
	`{"success":false,"error":"Daily token budget exhausted; it resets at the start of the next day","errorCode":429}`,
	`{"success":false,"error":"to_phone_number is required","errorCode":400}`,
	`{}`, `[]`, `x`,
}

func FuzzDecodeError(f *testing.F) {
	for _, s := range errorSeeds {
		f.Add(429, "2", []byte(s))
		f.Add(400, "", []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, reset string, body []byte) {
		fl := decodeError(&rest.Response{Status: status, Header: http.Header{"X-Ratelimit-Reset": {reset}}, Body: body})
		if fl.After < 0 || fl.After > 25*time.Hour {
			t.Fatalf("wait %v", fl.After)
		}
		if (fl.Class == rest.Retry) != (status == http.StatusTooManyRequests) {
			t.Fatalf("%d classified %v", status, fl.Class)
		}
	})
}

func TestDecodeError(t *testing.T) {
	if f := decodeError(&rest.Response{Status: 429, Header: http.Header{"X-Ratelimit-Reset": {"2"}}, Body: []byte(errorSeeds[1])}); f.Class != rest.Retry || f.After != 2*time.Second {
		t.Errorf("burst: %+v", f)
	}
	if f := decodeError(&rest.Response{Status: 429, Body: []byte(errorSeeds[2])}); f.After <= 0 || f.After > 24*time.Hour || !strings.Contains(f.Message, "budget") {
		t.Errorf("budget: %+v", f)
	}
	if f := decodeError(&rest.Response{Status: 400, Body: []byte(errorSeeds[3])}); f.Class != rest.ByStatus || f.Message != "to_phone_number is required" {
		t.Errorf("validation: %+v", f)
	}
}

func TestMarker(t *testing.T) {
	m := Marker("5e0b4c0a9f3b2d1e8a7c6b5a4d3c2b1a")
	if m != Marker("5e0b4c0a9f3b2d1e8a7c6b5a4d3c2b1a") || m == Marker("5e0b4c0a9f3b2d1e8a7c6b5a4d3c2b1b") || len(m) != len(" · ref ")+10 {
		t.Errorf("marker %q", m)
	}
	if got := untilMidnight(time.Date(2026, 11, 21, 23, 0, 0, 0, time.UTC)); got != time.Hour {
		t.Errorf("untilMidnight %v", got)
	}
}
