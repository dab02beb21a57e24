package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmtest"
	recordedacts "github.com/callbridge/callbridge/internal/recorded"
)

// The reference: how a body was encoded before appendBody, kept here as
// the definition of the bytes on the wire.

// refWrapUp is WrapUp with its MarshalJSON as it was.
type refWrapUp WrapUp

func (w refWrapUp) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Code  string `json:"code"`
		Notes string `json:"notes"`
		At    string `json:"at"`
	}{w.Code, w.Notes, w.At.UTC().Format("2006-01-02T15:04:05.000Z")})
}

type refExtras struct {
	CRMUser   *CRMUser   `json:"crm_user"`
	Template  string     `json:"template"`
	Matches   []Match    `json:"matches"`
	Completed bool       `json:"completed"`
	WrapUp    *refWrapUp `json:"wrap_up"`
}

// refBody is Body with its MarshalJSON as it was: the activity by
// reflection, the other keys, spliced.
type refBody Body

func (b refBody) MarshalJSON() ([]byte, error) {
	act, err := json.Marshal(b.Activity)
	if err != nil {
		return nil, err
	}
	x := refExtras{CRMUser: b.CRMUser, Template: b.Template, Matches: b.Matches, Completed: b.Completed, WrapUp: (*refWrapUp)(b.WrapUp)}
	if x.Matches == nil {
		x.Matches = []Match{}
	}
	more, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	act = bytes.TrimSpace(act)
	if len(act) < 2 || act[len(act)-1] != '}' || more[0] != '{' {
		return nil, errors.New("webhook: activity is not a JSON object")
	}
	out := make([]byte, 0, len(act)+len(more))
	out = append(out, act[:len(act)-1]...)
	out = append(out, ',')
	return append(out, more[1:]...), nil
}

// reference is what Push and PushOpen sent for b before: json.Marshal of
// the body, which also re-compacts the Marshaler's output.
func reference(b Body) ([]byte, error) { return json.Marshal(refBody(b)) }

type refUpdate struct {
	Event      string     `json:"event"`
	ID         string     `json:"id"`
	ActivityID string     `json:"activity_id"`
	CallID     string     `json:"call_id"`
	User       string     `json:"user"`
	WrapUp     *refWrapUp `json:"wrap_up"`
	Complete   bool       `json:"complete"`
}

func referenceUpdate(u Update) ([]byte, error) {
	return json.Marshal(refUpdate{u.Event, u.ID, u.ActivityID, u.CallID, u.User, (*refWrapUp)(u.WrapUp), u.Complete})
}

// recorded is every activity the engine gives for every recording.
func recorded() ([]bridge.Activity, error) {
	return recordedacts.Activities("../../testdata/recordings")
}

func recordedActivities(t testing.TB) []bridge.Activity {
	t.Helper()
	acts, err := recorded()
	if err != nil {
		t.Fatal(err)
	}
	// 28 recordings, two sources, two configurations: far more than this.
	if len(acts) < 200 {
		t.Fatalf("only %d activities from the recordings", len(acts))
	}
	return acts
}

var (
	matchA = Match{Connector: "salesforce", Entity: "Contact", Type: "person", ID: "003A", Name: "Matti Meikäläinen",
		URL: "https://acme.my.salesforce.com/003A?a=1&b=<2>", Org: "001B", Exact: true}
	matchB = Match{Connector: "salesforce", Entity: "Account", Type: "entity", ID: "001B", Name: "Acme \"Oy\"\u2028\\"}
	wrap   = &WrapUp{Code: "SALE", Notes: "called back\n<b>tomorrow</b> & later\u2029\xff", At: time.Date(2026, 11, 21, 16, 20, 1, 7_000_000, time.UTC)}
)

// variants are b as the webhook sends it in each of its shapes.
func variants(a bridge.Activity) []Body {
	return []Body{
		{Activity: a, Completed: true},
		{Activity: a, Matches: []Match{}, Completed: true},
		{Activity: a, CRMUser: &CRMUser{ID: "005X", Email: "alice@example.com", Mapped: true}, Template: "IN-1",
			Matches: []Match{matchA, matchB}, Completed: true},
		{Activity: a, CRMUser: &CRMUser{Email: "bob@example.com"}, Matches: []Match{matchB}},
		{Activity: a, CRMUser: &CRMUser{}, Template: "<&>", WrapUp: wrap, Completed: true},
		{Activity: a, WrapUp: &WrapUp{}},
	}
}

func checkSame(t *testing.T, b Body) {
	t.Helper()
	want, wantErr := reference(b)
	got, err := encode(&b)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("encode error %v, reference error %v, for %+v", err, wantErr, b)
	}
	if err != nil {
		return
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encode:\n%s\nreference:\n%s", got, want)
	}
	if m, err := b.MarshalJSON(); err != nil || !bytes.Equal(m, want) {
		t.Fatalf("MarshalJSON: %s, %v\nreference:\n%s", m, err, want)
	}
	if m, err := json.Marshal(b); err != nil || !bytes.Equal(m, want) {
		t.Fatalf("json.Marshal: %s, %v\nreference:\n%s", m, err, want)
	}
}

// TestEncodeRecordings: for every activity of every recording, in every
// shape of body, the bytes are the reference's.
func TestEncodeRecordings(t *testing.T) {
	for _, a := range recordedActivities(t) {
		for _, b := range variants(a) {
			checkSame(t, b)
		}
	}
}

// TestEncodeEdges covers what the recordings do not hold: every optional
// field set, escapes, float forms, zero and far times, and values JSON has
// no form for.
func TestEncodeEdges(t *testing.T) {
	full := crmtest.Activity("e-1")
	full.RemoteName, full.TransferredBy, full.ForwardedBy = "O'Brien <ceo>", "102", "103"
	cases := []func(a *bridge.Activity){
		func(*bridge.Activity) {},
		func(a *bridge.Activity) { *a = bridge.Activity{} },
		func(a *bridge.Activity) { a.AnsweredAt = time.Time{} },
		func(a *bridge.Activity) { a.StartedAt = time.Date(-3, 1, 1, 0, 0, 0, 0, time.UTC) },
		func(a *bridge.Activity) {
			a.EndedAt = time.Date(12345, 1, 1, 0, 0, 0, 999_999_999, time.FixedZone("x", -3*3600))
		},
		func(a *bridge.Activity) { a.RingSeconds, a.TalkSeconds = 1e21, 1e-7 },
		func(a *bridge.Activity) { a.RingSeconds, a.TalkSeconds = 999999999999999999999, 0.000001 },
		func(a *bridge.Activity) { a.RingSeconds, a.TalkSeconds = math.Copysign(0, -1), -1.5e-300 },
		func(a *bridge.Activity) { a.RingSeconds, a.TalkSeconds = math.MaxFloat64, math.SmallestNonzeroFloat64 },
		func(a *bridge.Activity) { a.RingSeconds = 123456789.123456789 },
		func(a *bridge.Activity) { a.RingSeconds = math.NaN() },
		func(a *bridge.Activity) { a.TalkSeconds = math.Inf(-1) },
		func(a *bridge.Activity) { a.User = "\x00\x01\x1f\x7f\b\f\n\r\t\"\\/" },
		func(a *bridge.Activity) { a.RemoteName = "\u2028\u2029\u2027\u202a<script>&amp;" },
		func(a *bridge.Activity) { a.RemoteName = "\xff\xfe\xc3\xe2\x82ok\xed\xa0\x80\xf4\x90\x80\x80é€😀" },
		func(a *bridge.Activity) { a.DDI, a.UserName, a.Privacy, a.Source = "", "", "", "" },
	}
	for _, change := range cases {
		a := full
		change(&a)
		for _, b := range variants(a) {
			checkSame(t, b)
		}
	}
}

// TestEncodeUpdate: an activity.update body is the reference's too.
func TestEncodeUpdate(t *testing.T) {
	for _, u := range []Update{
		{Event: EventUpdate, ID: "u-1", ActivityID: "a-1", CallID: "1.2", User: "101", WrapUp: wrap, Complete: true},
		{Event: EventUpdate, ID: "u-2", ActivityID: "a-2", CallID: "<1>", User: "\u2028"},
		{},
	} {
		want, err := referenceUpdate(u)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendUpdate(nil, &u); !bytes.Equal(got, want) {
			t.Errorf("update:\n%s\nreference:\n%s", got, want)
		}
	}
}

// TestPushSendsReference: what Push and PushOpen put on the wire, and
// sign, is the reference's bytes.
func TestPushSendsReference(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if Verify([]byte("s3cret-value"), r.Header.Get(SignatureHeader), b, time.Unix(1e9, 0), time.Minute) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
	}))
	defer srv.Close()
	w, err := New("hook", Config{URL: srv.URL, Secret: "s3cret-value"},
		Options{Logger: zerolog.Nop(), Now: func() time.Time { return time.Unix(1e9, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	a := crmtest.Activity("p-1")
	a.RemoteName = "A & B <Oy>\u2028"
	d := crmsync.Delivery{Activity: a, Assignment: crmsync.Assignment{CRMUser: "005X", Email: "a@example.com", Mapped: true, Template: "IN"}}
	if err := w.Push(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if err := w.PushOpen(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	closed := Body{Activity: a, CRMUser: &CRMUser{ID: "005X", Email: "a@example.com", Mapped: true}, Template: "IN", Completed: true}
	open := closed
	open.Completed = false
	for i, b := range []Body{closed, open} {
		want, err := reference(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !bytes.Equal(got[i], want) {
			t.Fatalf("request %d:\n%s\nreference:\n%s", i, got, want)
		}
	}
}

// FuzzAppendBody: whatever an activity and its body hold, appendBody
// writes the reference's bytes, or fails where it fails.
func FuzzAppendBody(f *testing.F) {
	for _, a := range recordedActivities(f) {
		f.Add(a.ID, a.User, a.UserName, a.RemoteNumber, a.RemoteName, a.DDI, a.TransferredBy, "IN-1", "Matti", "notes",
			a.RingSeconds, a.TalkSeconds, a.StartedAt.Unix(), a.AnsweredAt.Unix(), a.EndedAt.Unix(), int64(a.EndedAt.Nanosecond()), true)
	}
	zero := time.Time{}.Unix()
	f.Add("", "", "", "", "", "", "", "", "", "", 0.0, 0.0, zero, zero, zero, int64(0), false)
	f.Add("\xff", "\x00\x1f", "<>&", "\u2028\u2029", "\"\\", "\xed\xa0\x80", "\t\n\r\b\f", "é€😀", "\x7f", "\xc3",
		1e21, 1e-7, int64(-62135596801), int64(253402300800), int64(1<<40), int64(-1), true)
	f.Add("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", math.NaN(), math.Inf(1), int64(0), int64(0), int64(0), int64(0), false)
	f.Add("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", -0.0, -5e-324, int64(1), int64(2), int64(3), int64(1e9), false)
	f.Fuzz(func(t *testing.T, id, user, userName, remote, remoteName, ddi, by, template, name, notes string,
		ring, talk float64, started, answered, ended, nsec int64, set bool) {
		at := func(sec int64) time.Time {
			if sec == zero {
				return time.Time{}
			}
			return time.Unix(sec, nsec)
		}
		a := bridge.Activity{ID: id, CallID: id + user, User: user, UserName: userName, LocalNumber: remote + user,
			Direction: bridge.Direction(ddi), Internal: set, State: bridge.Outcome(by), Reason: bridge.Reason(name),
			RemoteNumber: remote, RemoteE164: remoteName + ddi, RemoteName: remoteName, DDI: ddi,
			StartedAt: at(started), AnsweredAt: at(answered), EndedAt: at(ended), RingSeconds: ring, TalkSeconds: talk,
			TransferredBy: by, ForwardedBy: notes, Privacy: template, Source: name}
		b := Body{Activity: a, Template: template, Completed: !set}
		if set {
			b.CRMUser = &CRMUser{ID: id, Email: userName, Mapped: set}
			b.Matches = []Match{{Connector: name, Entity: template, Type: "person", ID: by, Name: name, URL: remoteName, Org: ddi, Exact: set}, {}}
			b.WrapUp = &WrapUp{Code: template, Notes: notes, At: at(answered)}
		}
		checkSame(t, b)
		u := Update{Event: EventUpdate, ID: id, ActivityID: remote, CallID: by, User: user, WrapUp: b.WrapUp, Complete: set}
		want, err := referenceUpdate(u)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendUpdate(nil, &u); !bytes.Equal(got, want) {
			t.Fatalf("update:\n%s\nreference:\n%s", got, want)
		}
	})
}

// BenchmarkBody: one activity body with an owner, a template and two
// matches, as json.Marshal encoded it before and as Push encodes it now.
func BenchmarkBody(b *testing.B) {
	acts := recordedActivities(b)
	body := Body{Activity: acts[0], CRMUser: &CRMUser{ID: "005X", Email: "alice@example.com", Mapped: true}, Template: "IN-1",
		Matches:   []Match{matchA, {Connector: "salesforce", Entity: "Account", Type: "entity", ID: "001B", Name: "Acme Oy", Exact: true}},
		Completed: true}
	want, err := reference(body)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(want)))
		for b.Loop() {
			if _, err := reference(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(want)))
		for b.Loop() {
			if _, err := encode(&body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
