package hubspot

import (
	"net/http"
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync/internal/rest"
)

// Error bodies as HubSpot sends them (API usage guidelines for the 429;
// the SDK's Error model for the others).
var errorSeeds = []string{
	`{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","correlationId":"c033cdaa-2c40-4a64-ae48-b4cec88dad24","policyName":"DAILY","requestId":"3d3e35b7-0dae-4b9f-a6e3-9c230cbcf8dd"}`,
	`{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}`,
	`{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT","policyName":"SECONDLY"}`,
	`{"status":"error","message":"Authentication credentials not found.","correlationId":"x","category":"INVALID_AUTHENTICATION"}`,
	`{"status":"error","message":"Property values were not valid","category":"VALIDATION_ERROR","errors":[{"message":"Property \"x\" does not exist","code":"PROPERTY_DOESNT_EXIST"}]}`,
	`{"status":"error","message":"This app hasn't been granted all required scopes","category":"MISSING_SCOPES"}`,
	`{}`, `[]`, `not json`,
}

func FuzzDecodeError(f *testing.F) {
	for _, s := range errorSeeds {
		f.Add(429, "10000", []byte(s))
		f.Add(400, "", []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, interval string, body []byte) {
		fl := decodeError(&rest.Response{Status: status, Header: http.Header{"X-Hubspot-Ratelimit-Interval-Milliseconds": {interval}}, Body: body})
		if fl.After < 0 || fl.After > time.Hour {
			t.Fatalf("wait %v", fl.After)
		}
		if fl.Class == rest.Retry && !fl.Throttled {
			t.Fatal("retry without a limit")
		}
	})
}

func TestDecodeError(t *testing.T) {
	h := http.Header{"X-Hubspot-Ratelimit-Interval-Milliseconds": {"10000"}}
	for _, tt := range []struct {
		body  string
		class rest.Class
		after time.Duration
		code  string
	}{
		{errorSeeds[0], rest.Retry, time.Hour, "RATE_LIMIT DAILY"},
		{errorSeeds[1], rest.Retry, 10 * time.Second, "RATE_LIMIT TEN_SECONDLY_ROLLING"},
		{errorSeeds[2], rest.Retry, time.Second, "RATE_LIMIT SECONDLY"},
		{errorSeeds[3], rest.Unauthorized, 0, "INVALID_AUTHENTICATION"},
		{errorSeeds[4], rest.ByStatus, 0, "VALIDATION_ERROR PROPERTY_DOESNT_EXIST"},
	} {
		f := decodeError(&rest.Response{Status: 429, Header: h, Body: []byte(tt.body)})
		if tt.class != rest.Retry {
			f = decodeError(&rest.Response{Status: 400, Header: h, Body: []byte(tt.body)})
		}
		if f.Class != tt.class || f.After != tt.after || f.Code != tt.code {
			t.Errorf("%s: %+v", tt.body, f)
		}
	}
}
