package app

import (
	"testing"
	"time"

	"github.com/callbridge/callbridge/crmsync"
)

func TestConnectorCheck(t *testing.T) {
	at := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		s      crmsync.PushState
		ok     bool
		detail string
	}{
		{crmsync.PushState{Connector: "crm"}, true, "no push yet"},
		{crmsync.PushState{Connector: "crm", Result: "ok", At: at}, true, "last push ok at 2030-01-01T09:00:00Z"},
		{crmsync.PushState{Connector: "crm", Result: "retry", Failing: 3, Error: "503", At: at}, false, "last push failed (3 in a row; retried): 503 at 2030-01-01T09:00:00Z"},
		{crmsync.PushState{Connector: "crm", Result: "dead", Error: "400", At: at}, true, "last push refused for good (a dead letter): 400 at 2030-01-01T09:00:00Z"},
	} {
		c := connectorCheck(tt.s)
		if c.Name != "connector crm" || c.OK != tt.ok || c.Detail != tt.detail {
			t.Errorf("%+v: %+v", tt.s, c)
		}
	}
}
