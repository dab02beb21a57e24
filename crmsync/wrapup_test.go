package crmsync_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/storetest"
)

func TestWrapupConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		cfg  crmsync.WrapupConfig
		want string // "" valid
	}{
		{crmsync.DefaultWrapupConfig(), ""},
		{crmsync.WrapupConfig{Codes: []string{"SALE", "NOSALE"}, Timeout: time.Minute, CompleteOnWrap: true}, ""},
		{crmsync.WrapupConfig{Codes: []string{"SALE", "SALE"}, Timeout: time.Minute}, "codes[1]: \"SALE\" is also codes[0]"},
		{crmsync.WrapupConfig{Codes: []string{"NO SALE"}, Timeout: time.Minute}, "codes[0]"},
		{crmsync.WrapupConfig{Codes: []string{""}, Timeout: time.Minute}, "codes[0]"},
		{crmsync.WrapupConfig{}, "timeout"},
		{crmsync.WrapupConfig{Timeout: 25 * time.Hour}, "timeout"},
	} {
		err := tt.cfg.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

// plainCRM is a connector with neither updates nor callbacks.
type plainCRM struct{ name string }

func (c plainCRM) Name() string                               { return c.name }
func (plainCRM) Push(context.Context, crmsync.Delivery) error { return nil }

type namedUpd struct {
	updCRM
	name string
}

func (c *namedUpd) Name() string { return c.name }

func claimAll(t *testing.T, s crmsync.Store, conn string) []crmsync.Job {
	t.Helper()
	js, err := s.Claim(context.Background(), crmsync.ClaimRequest{Connector: conn, Worker: "w", Max: 10, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// complete_on_wrap: a connected activity goes open to the connectors that
// can update, with its completion due wrapup.timeout after hang-up; a
// missed one, and every activity to the other connectors, as before.
func TestWrapupsEnqueue(t *testing.T) {
	ctx := context.Background()
	for _, on := range []bool{false, true} {
		s := newStore(t)
		conns := []crmsync.Connector{&namedUpd{name: "dyn"}, plainCRM{name: "plain"}}
		w, err := crmsync.NewWrapups(crmsync.WrapupConfig{CompleteOnWrap: on, Timeout: time.Hour}, s, "", conns)
		if err != nil {
			t.Fatal(err)
		}
		w.Now = func() time.Time { return time.Now().Add(-59 * time.Minute) } // due in a minute
		talk := storetest.Activity("talk")
		missed := storetest.Activity("missed")
		missed.State, missed.Reason = bridge.Missed, bridge.ReasonNoAnswer
		for _, c := range []string{"dyn", "plain"} {
			for _, a := range []bridge.Activity{talk, missed} {
				if err := w.Enqueue(ctx, c, a); err != nil {
					t.Fatal(err)
				}
			}
		}
		got := map[string]bool{}
		for _, j := range claimAll(t, s, "dyn") {
			got[j.ID()] = j.Open
		}
		if on && (!got["talk"] || got["missed"] || len(got) != 2) {
			t.Errorf("complete_on_wrap: dyn got %v, want talk open and missed not", got)
		}
		if !on && (got["talk"] || len(got) != 2) {
			t.Errorf("without complete_on_wrap: dyn got %v", got)
		}
		for _, j := range claimAll(t, s, "plain") {
			if j.Open || j.Task != nil {
				t.Errorf("plain connector got %+v", j)
			}
		}
		st, _ := s.JobState(ctx, "dyn", "complete:talk")
		if on != (st == crmsync.JobQueued) {
			t.Errorf("complete_on_wrap %v: completion task %v", on, st)
		}
	}
}

func TestWrapupsDispose(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	conns := []crmsync.Connector{&namedUpd{name: "dyn"}, plainCRM{name: "plain"}}
	w, err := crmsync.NewWrapups(crmsync.WrapupConfig{Codes: []string{"SALE", "NOSALE"}, Timeout: time.Minute, CompleteOnWrap: true}, s, "pbx1", conns)
	if err != nil {
		t.Fatal(err)
	}
	w.Now = func() time.Time { return time.Date(2026, 11, 21, 16, 15, 0, 0, time.UTC) }
	for _, bad := range []crmsync.Disposition{
		{CallID: "1763741470.0", User: "101", Code: "MAYBE"},
		{CallID: "1763741470.0", User: "101", Code: ""},
		{CallID: "", User: "101", Code: "SALE"},
		{CallID: "1763741470.0", User: "", Code: "SALE"},
		{CallID: "1763741470.0", User: "101", Code: "SALE", Notes: strings.Repeat("x", crmsync.MaxWrapupNotes+1)},
	} {
		if _, err := w.Dispose(ctx, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := w.Dispose(ctx, crmsync.Disposition{CallID: "c", User: "101", Code: "MAYBE"}); !errors.Is(err, crmsync.ErrUnknownCode) {
		t.Errorf("unknown code: %v", err)
	}
	d := crmsync.Disposition{CallID: "1763741470.0", User: "101", Code: "SALE", Notes: "wants a quote"}
	res, err := w.Dispose(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	want := bridge.ActivityID("pbx1", "1763741470.0", "101")
	if res.ActivityID != want || !slices.Equal(res.Connectors, []string{"dyn"}) || len(res.Repeated) != 0 {
		t.Fatalf("%+v, want activity %s queued for dyn only", res, want)
	}
	d.Code = "NOSALE"
	if res, err := w.Dispose(ctx, d); err != nil || !slices.Equal(res.Repeated, []string{"dyn"}) {
		t.Fatalf("repeat: %+v %v", res, err)
	}
	js := claimAll(t, s, "dyn")
	if len(js) != 1 {
		t.Fatalf("claimed %d jobs", len(js))
	}
	u := js[0].Task.Update
	if js[0].Task.After != want || u.ActivityID != want || u.Wrapup.Code != "SALE" || u.Wrapup.Notes != "wants a quote" || !u.Complete ||
		!js[0].Task.GiveUpAt.Equal(w.Now().Add(crmsync.DispositionWait)) {
		t.Errorf("task %+v update %+v", js[0].Task, u)
	}
}
