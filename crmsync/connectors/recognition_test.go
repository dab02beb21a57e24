package connectors_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/connectors"
	"github.com/callbridge/callbridge/crmsync/crmtest"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/crmsync/salesforce"
	"github.com/callbridge/callbridge/crmsync/webhook"
)

// oneContact is a CRM holding one contact.
type oneContact struct{}

func (oneContact) Records(_ context.Context, e phoneindex.Entity, _ time.Time, fn func([]phoneindex.Record) error) error {
	if e.Name != "contact" {
		return nil
	}
	return fn([]phoneindex.Record{{Entity: e.Name, ID: "003A", Name: "Maija Meikäläinen", Phones: []string{"+358401234567"},
		Modified: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}})
}

// recognition_from: a webhook built from the configuration fills its
// body's matches from the named connector's phone index.
func TestKeyRecognitionFrom(t *testing.T) {
	var mu sync.Mutex
	bodies := map[string]map[string]any{}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var v map[string]any
		json.Unmarshal(b, &v)
		id, _ := v["id"].(string) // the activity's
		mu.Lock()
		bodies[id] = v
		mu.Unlock()
	}))
	defer sink.Close()
	sf := &salesforce.Config{URL: "https://acme.my.salesforce.com", ClientID: "c", ClientSecret: "s"}
	for _, from := range []string{"sf", ""} {
		cfgs := []connectors.ConnectorConfig{
			{Name: "sf", Type: "salesforce", Settings: sf, Recognition: &phoneindex.Settings{Enabled: true}},
			{Name: "hook", Type: "webhook", Settings: &webhook.Config{URL: sink.URL, Secret: "s", RecognitionFrom: from}},
		}
		recs := &phoneindex.Set{}
		conns, err := connectors.Build(cfgs, connectors.Deps{Logger: zerolog.Nop()}, recs)
		if err != nil {
			t.Fatal(err)
		}
		settings, _ := cfgs[0].RecognitionSettings()
		settings.Region = "FI"
		in, err := phoneindex.Open(context.Background(), "sf", oneContact{}, phoneindex.FileStore{Dir: t.TempDir()}, settings,
			phoneindex.IntegrationOptions{Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		if err := in.Sync(context.Background(), true); err != nil {
			t.Fatal(err)
		}
		recs.Set("sf", in)
		a := crmtest.Activity("rf-" + from)
		a.RemoteNumber, a.RemoteE164 = "+358401234567", "+358401234567"
		if err := conns[1].Push(context.Background(), crmsync.Delivery{Activity: a}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		body := bodies[a.ID]
		mu.Unlock()
		matches, _ := body["matches"].([]any)
		switch {
		case from == "" && len(matches) != 0:
			t.Errorf("no recognition_from, yet matches: %v", matches)
		case from != "" && len(matches) != 1:
			t.Errorf("recognition_from %q: matches %v, want the contact", from, body["matches"])
		case from != "":
			m, _ := matches[0].(map[string]any)
			if m["connector"] != "sf" || m["id"] != "003A" {
				t.Errorf("match %v, want sf's contact 003A", m)
			}
		}
	}
}
