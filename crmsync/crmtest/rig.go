package crmtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/internal/callinfo"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// The rig below is what the connectors' own tests set up again and again
// around their fakes: a clock they move by hand, calls of each kind, a
// push that must succeed, a backlog and a synced phone index. It lives in
// this non-test package so that every connector's tests share one copy.

// Clock is a test clock the test moves by hand. It starts 5 s after
// Activity's call ended, so that a pushed sample call is fresh.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock 5 s after Activity's end.
func NewClock() *Clock { return &Clock{t: Activity("x").EndedAt.Add(5 * time.Second)} }

// Now is the clock's time; pass it as a connector's or a fake's Now.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Call is Activity(id) made a call of the given direction and outcome
// with remote: a call not connected rang out unanswered, without talk.
func Call(id string, dir bridge.Direction, state bridge.Outcome, remote string) bridge.Activity {
	a := Activity(id)
	a.Direction, a.State, a.RemoteNumber, a.RemoteE164 = dir, state, remote, remote
	if state != bridge.Connected {
		a.AnsweredAt, a.TalkSeconds = time.Time{}, 0
		a.Reason = bridge.ReasonNoAnswer
	}
	return a
}

// Push pushes a with the assignment as through c and fails the test on
// an error.
func Push(t testing.TB, c Connector, a bridge.Activity, as crmsync.Assignment) {
	t.Helper()
	if err := c.Push(context.Background(), crmsync.Delivery{Activity: a, Assignment: as}); err != nil {
		t.Fatal(err)
	}
}

// PushAtOnce pushes n sample calls (ids prefix0, prefix1, ...) through c
// all at once, failing the test on an error: the max_concurrency tests
// then read how many requests were in flight.
func PushAtOnce(t testing.TB, c Connector, prefix string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Push(context.Background(), Delivery(fmt.Sprint(prefix, i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// Backlog is n connected inbound calls with ids prefix-0000 on, as the
// dispatcher hands a backlog to a connector.
func Backlog(prefix string, n int) []crmsync.Delivery {
	out := make([]crmsync.Delivery, n)
	for i := range out {
		out[i] = DeliveryOf(Call(fmt.Sprintf("%s-%04d", prefix, i), bridge.Inbound, bridge.Connected, "+358401234567"))
	}
	return out
}

// PushTimesOut pushes Delivery("slow") through c, whose API (the fake at
// what, say "API" or "org") does not answer, and fails the test unless
// the push ends in a retryable timeout. Ignoring the connector's timeout
// would wait its default 30 s; the push is cut off after 5 s, and a
// cut-off push is not a timeout.
func PushTimesOut(t testing.TB, c Connector, what string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer time.AfterFunc(5*time.Second, cancel).Stop()
	err := c.Push(ctx, DeliveryOf(Call("slow", bridge.Inbound, bridge.Connected, "+358401234567")))
	if err == nil || crmerr.IsPermanent(err) {
		t.Fatalf("push to a silent %s: %v", what, err)
	}
	var te interface{ Timeout() bool }
	if errors.Is(err, context.Canceled) || !errors.As(err, &te) || !te.Timeout() {
		t.Errorf("not a timeout: %v", err)
	}
}

// Resync syncs in incrementally and wants added (a number the CRM gained)
// found, then in full and wants removed (one it lost) gone; news and gone
// name them in the failures ("a new account", "a deleted account").
func Resync(t testing.TB, in *phoneindex.Integration, added, news, removed, gone string) {
	t.Helper()
	if err := in.Sync(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if _, ok := in.Lookup(added); !ok {
		t.Errorf("incremental sync missed %s", news)
	}
	if err := in.Sync(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if _, ok := in.Lookup(removed); ok {
		t.Errorf("%s survived the full sync", gone)
	}
}

// SubjectTemplates are subjects for each kind of call that put the kind
// in front of the number, for the subjects.* key tests.
func SubjectTemplates() callinfo.Subjects {
	return callinfo.Subjects{Incoming: "IN {{.Number}}", Outgoing: "OUT {{.Number}}",
		MissedIncoming: "MISSED {{.Number}}", UnacceptedOutgoing: "NOANSWER {{.Number}}"}
}

// SubjectCase is a call of one kind and the subject SubjectTemplates
// give it.
type SubjectCase struct {
	Activity bridge.Activity
	Subject  string
}

// SubjectCases are a call of each kind to +358509999999 (ids s-in,
// s-out, s-miss, s-unacc) with the subject SubjectTemplates give it.
func SubjectCases() []SubjectCase {
	return []SubjectCase{
		{Call("s-in", bridge.Inbound, bridge.Connected, "+358509999999"), "IN +358509999999"},
		{Call("s-out", bridge.Outbound, bridge.Connected, "+358509999999"), "OUT +358509999999"},
		{Call("s-miss", bridge.Inbound, bridge.Missed, "+358509999999"), "MISSED +358509999999"},
		{Call("s-unacc", bridge.Outbound, bridge.Unaccepted, "+358509999999"), "NOANSWER +358509999999"},
	}
}

// PushBacklog pushes Backlog(prefix, n) through c in one PushBatch and
// fails the test on any delivery's error: the batch_size tests then count
// the requests it took.
func PushBacklog(t testing.TB, c crmsync.BatchPusher, prefix string, n int) {
	t.Helper()
	for i, err := range c.PushBatch(context.Background(), Backlog(prefix, n)) {
		if err != nil {
			t.Errorf("%d: %v", i, err)
		}
	}
}

// Request sends body as JSON to url with the credential header set to
// value and returns the status and the answer's body: the fakes' own
// tests talk to them with it.
func Request(t testing.TB, method, url, header, value, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(header, value)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Recognizer opens a phone index named name over src with entities
// (Finnish numbering) in a temporary folder and syncs it in full.
func Recognizer(t testing.TB, name string, src phoneindex.Source, entities []phoneindex.Entity) *phoneindex.Integration {
	t.Helper()
	in, err := phoneindex.Open(context.Background(), name, src, phoneindex.FileStore{Dir: t.TempDir()},
		phoneindex.Settings{Region: "FI", Enabled: true, Entities: entities}, phoneindex.IntegrationOptions{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Sync(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	return in
}
