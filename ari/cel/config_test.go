package cel_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari/cel"
)

// Validate reports every problem, each naming its key.
func TestValidate(t *testing.T) {
	good := []cel.Config{
		{Type: "csv", File: "/var/log/asterisk/cel-custom/Master.csv"},
		{Type: "csv", File: "x.csv", Fields: []string{"eventtype", "eventtime", "channame", "uniqueid", "linkedid"}, TimeZone: "Europe/Helsinki"},
		{Type: "postgres", DSN: "host=pbx dbname=asterisk user=callbridge", PasswordFile: "/run/secrets/pg", Table: "public.cel", Margin: time.Minute},
		{Type: "postgres", DSN: "postgres://callbridge@pbx:5432/asterisk?sslmode=require", Password: "s3cret"},
		{Type: "mysql", DSN: "callbridge@tcp(pbx:3306)/asteriskcdrdb", PasswordCredential: "cel-db", TimeZone: "UTC"},
	}
	for i, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("good[%d]: %v", i, err)
		}
	}
	bad := []struct {
		c    cel.Config
		keys []string
	}{
		{cel.Config{}, []string{"type"}},
		{cel.Config{Type: "sqlite"}, []string{"type"}},
		{cel.Config{Type: "csv"}, []string{"file"}},
		{cel.Config{Type: "csv", File: "x", DSN: "host=x", Table: "cel", Password: "p"}, []string{"dsn", "table", "password"}},
		{cel.Config{Type: "csv", File: "x", Fields: []string{"eventtype", "bogus"}}, []string{"fields[1]", "fields: EventTime"}},
		{cel.Config{Type: "postgres"}, []string{"dsn"}},
		{cel.Config{Type: "postgres", DSN: "host=pbx password=hunter2"}, []string{"dsn"}},
		{cel.Config{Type: "postgres", DSN: "postgres://cb:hunter2@pbx/asterisk"}, []string{"dsn"}},
		{cel.Config{Type: "mysql", DSN: "cb:hunter2@tcp(pbx)/asteriskcdrdb"}, []string{"dsn"}},
		{cel.Config{Type: "mysql", DSN: "not a dsn"}, []string{"dsn"}},
		{cel.Config{Type: "mysql", DSN: "cb@tcp(pbx)/db", File: "x", Fields: []string{"eventtype"}}, []string{"file", "fields"}},
		{cel.Config{Type: "mysql", DSN: "cb@tcp(pbx)/db", Password: "a", PasswordFile: "b"}, []string{"password"}},
		{cel.Config{Type: "mysql", DSN: "cb@tcp(pbx)/db", PasswordCredential: "../etc/shadow"}, []string{"password_credential"}},
		{cel.Config{Type: "mysql", DSN: "cb@tcp(pbx)/db", Table: "cel; DROP TABLE cel"}, []string{"table"}},
		{cel.Config{Type: "mysql", DSN: "cb@tcp(pbx)/db", TimeZone: "Mars/Olympus"}, []string{"time_zone"}},
		{cel.Config{Type: "mysql", DSN: "cb@tcp(pbx)/db", Margin: -time.Second}, []string{"margin"}},
		{cel.Config{Type: "mysql", DSN: "cb@tcp(pbx)/db", Margin: 48 * time.Hour}, []string{"margin"}},
	}
	for i, b := range bad {
		err := b.c.Validate()
		if err == nil {
			t.Errorf("bad[%d] accepted: %+v", i, b.c)
			continue
		}
		for _, k := range b.keys {
			if !strings.Contains(err.Error(), k+":") && !strings.Contains(err.Error(), k) {
				t.Errorf("bad[%d]: %q does not name %s", i, err, k)
			}
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("bad[%d]: the error carries the password: %v", i, err)
		}
		if _, oerr := cel.Open(context.Background(), b.c); oerr == nil || oerr.Error() != err.Error() {
			t.Errorf("bad[%d]: Open does not refuse it the same way: %v", i, oerr)
		}
	}
}

// fields: a cel_custom section with another column order (and fewer
// columns) reads the same calls.
func TestFieldsKey(t *testing.T) {
	rows := celRows(t, "blind_transfer")
	fields := []string{"LinkedID", "UniqueID(noquote)", "EventTime", "EventType", "ChanName", "Exten", "Context",
		"Name", "Num", "AppName", "AppData", "eventextra"}
	var b strings.Builder
	q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	for _, r := range rows {
		b.WriteString(strings.Join([]string{r.LinkedID, r.UniqueID, q(r.Time.Format("2006-01-02 15:04:05.000000")), q(r.Event),
			q(r.ChanName), q(r.Exten), q(r.Context), q(r.CallerName), q(r.CallerNum), q(r.AppName), q(r.AppData), q(r.Extra)}, ",") + "\n")
	}
	path := writeFile(t, t.TempDir(), "Master.csv", b.String())
	src := open(t, cel.Config{Type: "csv", File: path, Fields: fields, TimeZone: "UTC"})
	want := activities("cel", celEvents(t, "blind_transfer"))
	if got := fromSource(t, src, rows); !sameActivities(got, want) {
		t.Errorf("reordered fields:\n got%s\nwant%s", brief(got), brief(want))
	}
	// The lab's layout cannot read this file: every line is malformed.
	lab := open(t, cel.Config{Type: "csv", File: path})
	if got, err := lab.Window(context.Background(), time.Time{}, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil || len(got) != 0 || lab.Stats().Malformed != len(rows) {
		t.Errorf("read with the lab's fields: %d rows, %v, %+v", len(got), err, lab.Stats())
	}
}

// margin: the default (2m) and a configured margin widen the window read;
// a call that ended 3 s before the last event seen comes back with 5s or
// the default, not with 1s.
func TestMarginKey(t *testing.T) {
	path := filepath.Join(recordings, "concurrent_mixed_20", "cel.csv")
	full := callsOf(activities("cel", celEvents(t, "concurrent_mixed_20")))
	var first cel.Call
	for _, c := range full {
		if first.ID == "" || c.End.Before(first.End) {
			first = c
		}
	}
	w := cel.Window{LastSeen: first.End.Add(3 * time.Second)}
	w.FirstNew = w.LastSeen.Add(time.Second)
	for _, m := range []struct {
		margin time.Duration
		want   bool
	}{{0, true}, {5 * time.Second, true}, {time.Second, false}} {
		c := cel.Config{Type: "csv", File: path, Margin: m.margin}
		if m.margin == 0 && c.MarginOrDefault() != cel.DefaultMargin {
			t.Fatalf("default margin %v", c.MarginOrDefault())
		}
		g, err := cel.Backfill(context.Background(), open(t, c), w, c.MarginOrDefault(), engineConfig)
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{}
		for _, call := range g.Calls {
			ids = append(ids, call.ID)
		}
		if got := slices.Contains(ids, first.ID); got != m.want {
			t.Errorf("margin %v: call ended 3 s before included %v, want %v (%v)", m.margin, got, m.want, ids)
		}
	}
}

// Errors from a database that cannot be reached name the server, not the
// password.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range []cel.Config{
		{Type: "postgres", DSN: "host=127.0.0.1 port=1 user=cb dbname=asterisk connect_timeout=2", Password: "hunter2"},
		{Type: "mysql", DSN: "cb@tcp(127.0.0.1:1)/asteriskcdrdb?timeout=2s", Password: "hunter2"},
	} {
		_, err := cel.Open(ctx, c)
		if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), c.Type) {
			t.Errorf("%s: %v", c.Type, err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: hung until the deadline", c.Type)
		}
	}
}

// A legacy [mappings] line (cel_custom.conf.sample's, split at its commas)
// and an advanced list with a literal and eventtime(%FT%T%z) name the same
// columns.
func TestLayouts(t *testing.T) {
	legacy := strings.Split("${CSV_QUOTE(${eventtype})},${CSV_QUOTE(${eventtime})},${CSV_QUOTE(${CALLERID(name)})},"+
		"${CSV_QUOTE(${CALLERID(num)})},${CSV_QUOTE(${CALLERID(ANI)})},${CSV_QUOTE(${CALLERID(RDNIS)})},"+
		"${CSV_QUOTE(${CALLERID(DNID)})},${CSV_QUOTE(${CHANNEL(exten)})},${CSV_QUOTE(${CHANNEL(context)})},"+
		"${CSV_QUOTE(${CHANNEL(channame)})},${CSV_QUOTE(${CHANNEL(appname)})},${CSV_QUOTE(${CHANNEL(appdata)})},"+
		"${CSV_QUOTE(${CHANNEL(amaflags)})},${CSV_QUOTE(${CHANNEL(accountcode)})},${CSV_QUOTE(${CHANNEL(uniqueid)})},"+
		"${CSV_QUOTE(${CHANNEL(linkedid)})},${CSV_QUOTE(${BRIDGEPEER})},${CSV_QUOTE(${CHANNEL(userfield)})},"+
		"${CSV_QUOTE(${userdeftype})},${CSV_QUOTE(${eventextra})}", ",")
	line := `"CALLBRIDGE_PRIVACY","1795278319.271580","Alice","101","","","","*990401234567","from-internal","PJSIP/101-0000000c",` +
		`"","","3","","1795278319.16","1795278319.16","","","","{""extra"":""private""}"`
	l, err := cel.NewLayout(legacy, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rows []cel.Row
	st, err := l.ReadCSV(strings.NewReader(line+"\n"), func(r cel.Row) { rows = append(rows, r) })
	if err != nil || st.Malformed != 0 || len(rows) != 1 {
		t.Fatalf("%v %+v", err, st)
	}
	r := rows[0]
	if r.Event != cel.EventUser || r.UserEvent != "CALLBRIDGE_PRIVACY" || r.CallerNum != "101" || r.ChanName != "PJSIP/101-0000000c" ||
		r.LinkedID != "1795278319.16" || r.Extra != `{"extra":"private"}` || r.Time.UnixMicro() != 1795278319271580 {
		t.Errorf("legacy mapping read %+v", r)
	}
	adv, err := cel.NewLayout([]string{"EventType", `"pbx-1"`, "EventTime(%FT%T%z)", "ChanName", "UniqueID(noquote)", "LinkedID(noquote)"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows = nil
	if _, err := adv.ReadCSV(strings.NewReader(`"ANSWER","pbx-1","2026-11-21T18:25:21+0200","PJSIP/101-0000000c",1795278319.16,1795278319.16`+"\n"),
		func(r cel.Row) { rows = append(rows, r) }); err != nil || len(rows) != 1 || !rows[0].Time.Equal(time.Date(2026, 11, 21, 16, 25, 21, 0, time.UTC)) {
		t.Errorf("advanced mapping with a literal and %%z: %v %+v", err, rows)
	}
}
