package faulttest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync/webhook"
)

// The CRM fake is strict where a CRM is: unsigned requests and requests
// without an idempotency key are refused; one key is one record, whatever
// the answer and however often it is repeated; an activity under a second
// key is a second record, and another body under one key is counted. And
// its failures come at the rate the suite claims.
func TestCRMFake(t *testing.T) {
	c := newCRM(crmSecret)
	defer c.close()
	post := func(a bridge.Activity, key string, sign bool) int {
		body, _ := json.Marshal(a)
		req, _ := http.NewRequest(http.MethodPost, c.srv.URL, bytes.NewReader(body))
		if sign {
			req.Header.Set(webhook.SignatureHeader, webhook.Sign([]byte(crmSecret), time.Now().Unix(), body))
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		cl := http.Client{Timeout: crmTimeout}
		resp, err := cl.Do(req)
		if err != nil {
			return 0 // a hang past the timeout, or a reset
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	a := bridge.Activity{ID: "a1", CallID: "c1", User: "101", Source: "ari"}
	if code := post(a, "a1", false); code != http.StatusBadRequest {
		t.Errorf("unsigned: %d", code)
	}
	if code := post(a, "", true); code != http.StatusBadRequest {
		t.Errorf("no key: %d", code)
	}
	for range 5 {
		post(a, "a1", true)
	}
	b := a
	b.Source = "cel"
	post(b, "a1", true)
	post(a, "other-key", true)
	c.mu.Lock()
	rec := c.records["a1"]
	keys := len(c.keys["a1"])
	c.mu.Unlock()
	if rec == nil || rec.versions != 2 || keys != 2 {
		t.Fatalf("record %+v, keys %d; want two versions under a1 and a second key", rec, keys)
	}
	w := &workload{what: map[string]string{}, need: map[string]bool{}, all: map[string]map[string]bridge.Activity{"ari": {"a1": a}}, drop: map[string]map[string]string{}}
	r := &rig{t: t, w: w, crm: c}
	if ps := r.problems(); len(ps) < 3 {
		t.Errorf("problems %q: want the bad requests, the versions and the second key", ps)
	}

	fails := 0
	for i := range 10000 {
		if plan(string(rune('a'+i%26))+string(rune(i)), 0) != answerOK {
			fails++
		}
	}
	if fails < 2700 || fails > 3300 {
		t.Errorf("%d of 10000 first attempts fail, want about 30 %%", fails)
	}
}
