package zoho

import (
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync/internal/rest"
)

// Error bodies as Zoho sends them (the API's error shape {code, details,
// message, status}; per record inside data).
var errorSeeds = []string{
	`{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}`,
	`{"code":"TOO_MANY_REQUESTS","details":{},"message":"concurrency limit of the org exceeded","status":"error"}`,
	`{"data":[{"code":"INVALID_DATA","details":{"expected_data_type":"datetime","api_name":"Call_Start_Time","json_path":"$.data[0].Call_Start_Time"},"message":"invalid data","status":"error"}]}`,
	`{"data":[{"code":"MANDATORY_NOT_FOUND","details":{"api_name":"Subject"},"message":"required field not found","status":"error"}]}`,
	`{"code":"INTERNAL_ERROR","details":{},"message":"Internal Server Error","status":"error"}`,
	`{"data":[]}`, `{"details":{"api_name":7}}`, `null`,
}

func FuzzDecodeError(f *testing.F) {
	for _, s := range errorSeeds {
		f.Add(400, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		fl := decodeError(&rest.Response{Status: status, Body: body})
		if fl.After < 0 || fl.After > time.Hour || len(fl.Code) > 200 {
			t.Fatalf("%+v", fl)
		}
	})
}

func TestDecodeError(t *testing.T) {
	for _, tt := range []struct {
		body  string
		class rest.Class
		msg   string
	}{
		{errorSeeds[0], rest.Unauthorized, "invalid oauth token"},
		{errorSeeds[1], rest.Retry, "concurrency limit of the org exceeded"},
		{errorSeeds[2], rest.ByStatus, "Call_Start_Time: invalid data (expected datetime)"},
		{errorSeeds[4], rest.Retry, "Internal Server Error"},
	} {
		f := decodeError(&rest.Response{Status: 400, Body: []byte(tt.body)})
		if f.Class != tt.class || f.Message != tt.msg {
			t.Errorf("%s: %+v", tt.body, f)
		}
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[float64]string{0: "00:00", 2.4: "00:02", 59.6: "01:00", 3725: "62:05"} {
		if got := duration(in); got != want {
			t.Errorf("duration(%v) = %s, want %s", in, got, want)
		}
	}
}
