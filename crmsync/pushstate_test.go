package crmsync

import (
	"errors"
	"testing"
	"time"
)

// A connector is failing from a retryable failure until its next success;
// a dead letter is not the CRM failing.
func TestPushStates(t *testing.T) {
	var p PushStates
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if s := p.Get("crm"); s.Result != "" || s.Failed() {
		t.Fatalf("before a push: %+v", s)
	}
	p.record("crm", "retry", errors.New("503 Service Unavailable"), at)
	p.record("crm", "retry", errors.New("503 Service Unavailable"), at)
	if s := p.Get("crm"); !s.Failed() || s.Failing != 2 || s.Error != "503 Service Unavailable" {
		t.Errorf("after two failures: %+v", s)
	}
	p.record("crm", "dead", errors.New("400 bad owner"), at)
	if s := p.Get("crm"); s.Failed() || s.Failing != 2 {
		t.Errorf("after a dead letter: %+v", s)
	}
	p.record("crm", "ok", nil, at)
	if s := p.Get("crm"); s.Failed() || s.Failing != 0 || s.Error != "" {
		t.Errorf("after a success: %+v", s)
	}
	var none *PushStates
	none.record("crm", "ok", nil, at) // Settle without States
	if all := p.All(); len(all) != 1 || all[0].Connector != "crm" {
		t.Errorf("All: %+v", all)
	}
}

// A worker's share of a backlog is pushed before the lease of its last
// job can run out, even when every push takes the whole push_timeout.
func TestBacklogShareFitsTheLease(t *testing.T) {
	for _, tc := range []struct {
		lease, push time.Duration
		want        int
	}{
		{2 * time.Minute, 30 * time.Second, 3}, // the defaults
		{35 * time.Second, 30 * time.Second, 1},
		{time.Hour, time.Second, maxBacklogShare},
	} {
		c := DeliveryConfig{Lease: tc.lease, PushTimeout: tc.push}
		got := c.backlogShare()
		if got != tc.want || time.Duration(got)*tc.push >= tc.lease {
			t.Errorf("lease %s, push_timeout %s: share %d, want %d", tc.lease, tc.push, got, tc.want)
		}
	}
}
