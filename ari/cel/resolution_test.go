package cel_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari/cel"
	"github.com/callbridge/callbridge/bridge"
)

// celRows reads a recording's cel.csv into rows.
func celRows(t testing.TB, scenario string) []cel.Row {
	t.Helper()
	f, err := os.Open(filepath.Join(recordings, scenario, "cel.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := cel.NewLayout(cel.LabFields, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	var rows []cel.Row
	st, err := l.ReadCSV(f, func(r cel.Row) { rows = append(rows, r) })
	if err != nil || st.Malformed != 0 {
		t.Fatalf("%s: %v %+v", scenario, err, st)
	}
	return rows
}

func mapRows(rows []cel.Row) []bridge.Event {
	var evs []bridge.Event
	m := cel.NewMapper(func(ev bridge.Event) { evs = append(evs, ev) })
	for _, r := range rows {
		m.Feed(r)
	}
	m.Flush()
	return evs
}

// TestSecondResolution stands for FreePBX's asteriskcdrdb.cel, whose
// eventtime is a datetime without fractions: MySQL rounds the
// microseconds cel_odbc writes, MariaDB drops them. Every time may move by
// up to a second and rows of one second tie; ties keep the order the rows
// were written in (the table's id), so calls keep their ids and the
// activities differ from ARI's in their times only, by at most a second
// (plus the offer's earlier start, as at full resolution).
func TestSecondResolution(t *testing.T) {
	for _, how := range []struct {
		name string
		cut  func(time.Time) time.Time
	}{
		{"mariadb truncates", func(t time.Time) time.Time { return t.Truncate(time.Second) }},
		{"mysql rounds", func(t time.Time) time.Time { return t.Round(time.Second) }},
	} {
		t.Run(how.name, func(t *testing.T) {
			for _, sc := range scenarios(t) {
				rows := celRows(t, sc)
				for i := range rows {
					rows[i].Time = how.cut(rows[i].Time)
				}
				compareCoarse(t, sc, activities("cel", mapRows(rows)), activities("ari", ariEvents(t, sc)))
			}
		})
	}
}

// TestPrivacyEvent: the privacy mark reaches CEL when the dialplan also
// runs CELGenUserEvent(CALLBRIDGE_PRIVACY,private). cel_custom writes the
// event under its own name (show_user_defined=no, the default); with
// show_user_defined=yes the type is USER_DEFINED and the name goes to
// userdeftype. Either way the call is private, and only that call.
func TestPrivacyEvent(t *testing.T) {
	for _, form := range []struct{ typ, name string }{
		{"CALLBRIDGE_PRIVACY", ""},
		{"USER_DEFINED", "__CALLBRIDGE_PRIVACY"},
	} {
		rows := celRows(t, "private_call")
		other := celRows(t, "outbound_answered")
		first := rows[0]
		ev := first
		if err := ev.SetEvent(form.typ, form.name); err != nil {
			t.Fatal(err)
		}
		ev.Time = first.Time.Add(time.Millisecond)
		ev.Extra = `{"extra":"private"}`
		marked := append([]cel.Row{first, ev}, rows[1:]...)
		got := activities("cel", mapRows(append(other, marked...)))
		if len(got) != 2 {
			t.Fatalf("%d activities: %s", len(got), brief(got))
		}
		for _, a := range got {
			want := bridge.PrivacyWork
			if a.CallID == first.LinkedID {
				want = bridge.PrivacyPrivate
			}
			if a.Privacy != want {
				t.Errorf("%s/%s: call %s privacy %q, want %q", form.typ, form.name, a.CallID, a.Privacy, want)
			}
		}
	}
}

// TestEventCodes: an integer eventtype column holds enum
// ast_cel_event_type's numbers; the row reads the same as with names.
func TestEventCodes(t *testing.T) {
	for code, name := range map[string]string{"1": "CHAN_START", "3": "HANGUP", "7": "BRIDGE_ENTER", "12": "ATTENDEDTRANSFER", "14": "LINKEDID_END", "21": "DTMF"} {
		var r cel.Row
		if err := r.SetEvent(code, ""); err != nil || r.Event != name {
			t.Errorf("%s: %q %v, want %s", code, r.Event, err, name)
		}
	}
	var r cel.Row
	for _, bad := range []string{"", "0", "22", "-1"} {
		if err := r.SetEvent(bad, ""); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := r.SetEvent("MY_EVENT", ""); err != nil || r.Event != cel.EventUser || r.UserEvent != "MY_EVENT" {
		t.Errorf("user event: %+v %v", r, err)
	}
	if strings.TrimSpace(r.UserEvent) == "" {
		t.Error("no user event name")
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestParkWithoutTransfer: a call parked by the one-touch parking feature
// or Park() has a PARK_START but no BLINDTRANSFER row; it still counts as
// a transfer by the parker (SEMANTICS.md: parking is a transfer), and the
// retriever's activity names the parker, as with the REFER to 700.
func TestParkWithoutTransfer(t *testing.T) {
	var rows []cel.Row
	for _, r := range celRows(t, "call_park_retrieve") {
		if r.Event != cel.EventBlindTransfer {
			rows = append(rows, r)
		}
	}
	got := activities("cel", mapRows(rows))
	want := activities("ari", ariEvents(t, "call_park_retrieve"))
	if len(got) != 2 || len(want) != 2 {
		t.Fatalf("cel:%s\nari:%s", brief(got), brief(want))
	}
	for i := range want {
		compare(t, i, got[i], want[i])
	}
}

// TestAppStartNamesTheCallee: with apps = dial in cel.conf, APP_START rows
// carry Dial's arguments from the start, so the offer to a callee names
// the number dialled even when nobody answers (outbound_busy's rows have
// no Dial arguments otherwise).
func TestAppStartNamesTheCallee(t *testing.T) {
	rows := celRows(t, "outbound_busy")
	dialString := func(rows []cel.Row) string {
		for _, ev := range mapRows(rows) {
			if ev.Kind == bridge.Dial && ev.DialStatus == "" {
				return ev.DialString
			}
		}
		return "?"
	}
	if ds := dialString(rows); ds != "" {
		t.Fatalf("without APP_START the dial string is %q", ds)
	}
	app := rows[0]
	app.Event, app.Time = cel.EventAppStart, rows[0].Time.Add(100*time.Microsecond)
	app.AppName, app.AppData = "Dial", "PJSIP/0401234567@pstn,30"
	with := append([]cel.Row{rows[0], app}, rows[1:]...)
	if ds := dialString(with); ds != "0401234567@pstn" {
		t.Errorf("with APP_START the dial string is %q", ds)
	}
}

// TestHeldBack: a call's rows come out only once every channel that could
// explain them has ended (a callee's dialler is named by rows written
// after its CHAN_START); a call that never ends is held until the bound or
// Flush, and another call's rows are never held behind it for ever.
func TestHeldBack(t *testing.T) {
	rows := celRows(t, "inbound_answered")
	var evs []bridge.Event
	m := cel.NewMapper(func(ev bridge.Event) { evs = append(evs, ev) })
	callee := rows[1].UniqueID             // PJSIP/101, dialled by the trunk channel
	for _, r := range rows[:len(rows)-3] { // up to the callee's HANGUP
		m.Feed(r)
	}
	// The trunk channel (ended) and its CHAN_START are out; the callee's
	// rows, and every row after its CHAN_START, wait for its end.
	if len(evs) != 1 || evs[0].Kind != bridge.ChannelCreated || evs[0].Channel.ID == callee {
		t.Fatalf("%d events before the callee ended: %+v", len(evs), evs)
	}
	for _, r := range rows[len(rows)-3:] {
		m.Feed(r)
	}
	if len(evs) == 0 || evs[len(evs)-1].Kind != bridge.ChannelDestroyed {
		t.Fatalf("after the last CHAN_END: %d events", len(evs))
	}

	// A call that does not end within the rows: the bound lets later
	// calls through; Flush the rest.
	evs = nil
	m = cel.NewMapper(func(ev bridge.Event) { evs = append(evs, ev) })
	m.MaxPending = 5
	open := celRows(t, "ring_group")
	for _, r := range open[:5] {
		m.Feed(r)
	}
	later := celRows(t, "short_call")
	for _, r := range later {
		m.Feed(r)
	}
	if len(evs) == 0 {
		t.Fatal("a call that never ended held back everything")
	}
	// Finished calls only (no Flush): the later call is complete.
	eng := bridge.New(engineConfig)
	var done []bridge.Activity
	for _, ev := range evs {
		for _, tr := range eng.Apply(ev) {
			if tr.Activity != nil {
				done = append(done, *tr.Activity)
			}
		}
	}
	if len(done) != 1 || done[0].CallID != later[0].LinkedID {
		t.Errorf("past the bound: %s", brief(done))
	}
	m.Flush()
	if len(activities("cel", evs)) != 3 {
		t.Errorf("after Flush: %s", brief(activities("cel", evs)))
	}
}
