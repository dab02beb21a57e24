package cel_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari/cel"
	"github.com/callbridge/callbridge/ari/cel/celtest"
	"github.com/callbridge/callbridge/bridge"
)

func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// dayOfRows is every recording's rows in the order they were recorded,
// as one PBX's CEL table would hold them.
func dayOfRows(t testing.TB) (all []cel.Row, by map[string][]cel.Row) {
	t.Helper()
	by = map[string][]cel.Row{}
	scs := scenarios(t)
	for _, sc := range scs {
		by[sc] = celRows(t, sc)
	}
	slices.SortFunc(scs, func(a, b string) int { return by[a][0].Time.Compare(by[b][0].Time) })
	for _, sc := range scs {
		all = append(all, by[sc]...)
	}
	return all, by
}

// fromSource reads a recording's calls back through Related, as a backfill
// does, and builds their activities.
func fromSource(t testing.TB, src cel.Source, rows []cel.Row) []bridge.Activity {
	t.Helper()
	linked, unique := map[string]bool{}, map[string]bool{}
	for _, r := range rows {
		linked[r.LinkedID], unique[r.UniqueID] = true, true
	}
	got, err := src.Related(context.Background(), mapKeys(linked), mapKeys(unique))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("read back %d rows, wrote %d", len(got), len(rows))
	}
	return activities("cel", mapRows(got))
}

func mapKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func open(t testing.TB, c cel.Config) cel.Source {
	t.Helper()
	src, err := cel.Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// TestPostgres reads the cel table of cel_pgsql from a real PostgreSQL,
// loaded with all 28 recordings as cel_pgsql writes them (eventtime the
// PBX's local time, Helsinki, with microseconds): every recording's
// activities equal those from its cel.csv, exactly.
func TestPostgres(t *testing.T) {
	s := celtest.Postgres(t)
	hel := zone(t, "Europe/Helsinki")
	all, by := dayOfRows(t)
	celtest.Create(t, s.Admin, celtest.PgsqlTable, "cel")
	celtest.Insert(t, s.Admin, "cel", "$", all, hel)
	dir := t.TempDir()
	pwfile := writeFile(t, dir, "pgpass", s.Password+"\n")
	cfg := cel.Config{Type: cel.TypePostgres, DSN: s.DSN, PasswordFile: pwfile, TimeZone: "Europe/Helsinki"}
	src := open(t, cfg)

	t.Run("same as the CSV", func(t *testing.T) {
		for _, sc := range scenarios(t) {
			want := activities("cel", celEvents(t, sc))
			if got := fromSource(t, src, by[sc]); !sameActivities(got, want) {
				t.Errorf("%s:\n got%s\nwant%s", sc, brief(got), brief(want))
			}
		}
	})
	t.Run("window", func(t *testing.T) {
		rows := by["ring_group"]
		got, err := src.Window(context.Background(), rows[0].Time, rows[len(rows)-1].Time.Add(time.Microsecond))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(rows) || got[0].UniqueID != rows[0].UniqueID || !slices.IsSortedFunc(got, func(a, b cel.Row) int { return int(a.Seq - b.Seq) }) {
			t.Fatalf("window gave %d rows, want the recording's %d in written order", len(got), len(rows))
		}
	})
	t.Run("time_zone", func(t *testing.T) {
		// Read as UTC, Helsinki's wall clock is two hours late.
		utc := cfg
		utc.TimeZone = "UTC"
		got := fromSource(t, open(t, utc), by["inbound_answered"])
		want := activities("cel", celEvents(t, "inbound_answered"))
		if d := got[0].StartedAt.Sub(want[0].StartedAt); d != 2*time.Hour {
			t.Errorf("read as UTC: started %v, from the CSV %v", got[0].StartedAt, want[0].StartedAt)
		}
	})
	t.Run("password", func(t *testing.T) {
		for name, c := range map[string]cel.Config{
			"wrong":   {Type: cel.TypePostgres, DSN: s.DSN, Password: "not-the-password-4711"},
			"missing": {Type: cel.TypePostgres, DSN: s.DSN},
		} {
			_, err := cel.Open(context.Background(), c)
			if err == nil || strings.Contains(err.Error(), "not-the-password-4711") || strings.Contains(err.Error(), s.Password) {
				t.Errorf("%s password: %v", name, err)
			}
		}
		t.Setenv("CREDENTIALS_DIRECTORY", dir)
		c := cfg
		c.PasswordFile, c.PasswordCredential = "", "pgpass"
		open(t, c)
		c.PasswordCredential, c.Password = "", cel.Secret(s.Password)
		open(t, c)
	})
	t.Run("table", func(t *testing.T) {
		// An integer eventtype holds enum ast_cel_event_type's numbers,
		// a double eventtime epoch seconds; no id column, so rows come in
		// eventtime order, which is not quite the order Asterisk wrote
		// them in (it may write a row stamped a few microseconds before
		// the one it wrote last): times may differ by as much.
		if _, err := s.Admin.Exec(`CREATE SCHEMA pbx; CREATE TABLE pbx.events (eventtype int NOT NULL, eventtime double precision NOT NULL,
			userdeftype text, cid_name text, cid_num text, exten text, context text, channame text, appname text, appdata text,
			uniqueid text, linkedid text, peer text, extra text); GRANT USAGE ON SCHEMA pbx TO callbridge; GRANT SELECT ON pbx.events TO callbridge`); err != nil {
			t.Fatal(err)
		}
		celtest.Insert(t, s.Admin, "pbx.events", "$", all, hel)
		c := cfg
		c.Table = "pbx.events"
		other := open(t, c)
		for _, sc := range []string{"attended_transfer", "call_pickup", "concurrent_mixed_20", "queue_local_members"} {
			want := activities("cel", celEvents(t, sc))
			if got := fromSource(t, other, by[sc]); !sameWithin(got, want, time.Millisecond) {
				t.Errorf("%s from pbx.events:\n got%s\nwant%s", sc, brief(got), brief(want))
			}
		}
		c.Table = "pbx.nothing"
		if _, err := cel.Open(context.Background(), c); err == nil || !strings.Contains(err.Error(), "pbx.nothing") {
			t.Errorf("missing table: %v", err)
		}
	})
	t.Run("eventtime types", func(t *testing.T) {
		// cel_pgsql writes eventtime as "%Y-%m-%d %T.%6q" text; into a
		// timestamptz column the server reads it in its TimeZone (UTC
		// here, as with usegmtime=yes): an instant, time_zone does not
		// apply. Into a text column it stays local wall-clock text.
		for _, v := range []struct {
			typ string
			loc *time.Location
		}{{"timestamptz", time.UTC}, {"varchar(32)", hel}} {
			table := "cel_" + strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(v.typ))[0]
			if _, err := s.Admin.Exec("CREATE TABLE " + table + " (id serial, eventtype text, eventtime " + v.typ +
				", cid_name text, cid_num text, exten text, context text, channame text, appname text, appdata text," +
				" uniqueid text, linkedid text, extra text); GRANT SELECT ON " + table + " TO callbridge"); err != nil {
				t.Fatal(err)
			}
			celtest.Insert(t, s.Admin, table, "$", by["ring_group"], v.loc)
			c := cfg
			c.Table = table
			want := activities("cel", celEvents(t, "ring_group"))
			if got := fromSource(t, open(t, c), by["ring_group"]); !sameActivities(got, want) {
				t.Errorf("%s:\n got%s\nwant%s", v.typ, brief(got), brief(want))
			}
		}
	})
	t.Run("backfill", func(t *testing.T) { testBackfill(t, src, by["concurrent_mixed_20"], 0) })
}

// TestMariaDB reads FreePBX's asteriskcdrdb.cel from a real MariaDB, loaded
// with all 28 recordings as cel_odbc writes them: local wall-clock time,
// which the datetime column cuts to whole seconds. The activities are
// ARI's, with times within a second (TestSecondResolution's allowance).
func TestMariaDB(t *testing.T) {
	s := celtest.MariaDB(t)
	hel := zone(t, "Europe/Helsinki")
	all, by := dayOfRows(t)
	celtest.Create(t, s.Admin, celtest.FreePBXTable, "cel")
	celtest.Insert(t, s.Admin, "cel", "?", all, hel)
	dir := t.TempDir()
	cfg := cel.Config{Type: cel.TypeMySQL, DSN: s.DSN, PasswordFile: writeFile(t, dir, "pw", s.Password), TimeZone: "Europe/Helsinki"}
	src := open(t, cfg)

	t.Run("same as ARI to the second", func(t *testing.T) {
		for _, sc := range scenarios(t) {
			got := fromSource(t, src, by[sc])
			compareCoarse(t, sc, got, activities("ari", ariEvents(t, sc)))
		}
	})
	t.Run("seconds", func(t *testing.T) {
		rows, err := src.Window(context.Background(), by["ring_group"][0].Time.Truncate(time.Second), by["ring_group"][0].Time.Add(time.Minute))
		if err != nil || len(rows) == 0 {
			t.Fatal(rows, err)
		}
		if rows[0].Time.Nanosecond() != 0 || !rows[0].Time.Equal(by["ring_group"][0].Time.Truncate(time.Second)) {
			t.Errorf("MariaDB keeps %v of %v", rows[0].Time, by["ring_group"][0].Time)
		}
	})
	t.Run("password", func(t *testing.T) {
		_, err := cel.Open(context.Background(), cel.Config{Type: cel.TypeMySQL, DSN: s.DSN, Password: "not-the-password-4711"})
		if err == nil || strings.Contains(err.Error(), "not-the-password-4711") {
			t.Errorf("wrong password: %v", err)
		}
	})
	t.Run("backfill", func(t *testing.T) { testBackfill(t, src, by["concurrent_mixed_20"], time.Millisecond) })
}

// compareCoarse compares activities from a second-resolution source with
// ARI's: everything equal but the times, which may be a second off (and an
// inbound offer's start, earlier as at full resolution).
func compareCoarse(t *testing.T, sc string, got, want []bridge.Activity) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d activities, ARI %d:\ncel:%s\nari:%s", sc, len(got), len(want), brief(got), brief(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		g.Privacy = w.Privacy // CEL cannot see Set(CALLBRIDGE_PRIVACY=…): TestSameActivitiesAsARI
		g.StartedAt, g.AnsweredAt, g.EndedAt = w.StartedAt, w.AnsweredAt, w.EndedAt
		g.RingSeconds, g.TalkSeconds = w.RingSeconds, w.TalkSeconds
		if brief([]bridge.Activity{g}) != brief([]bridge.Activity{w}) || g.ID != w.ID {
			t.Errorf("%s: activity %d differs:\ncel:%s\nari:%s", sc, i, brief(got[i:i+1]), brief(want[i:i+1]))
		}
		a := got[i]
		for _, d := range []time.Duration{a.AnsweredAt.Sub(w.AnsweredAt), a.EndedAt.Sub(w.EndedAt)} {
			if d.Abs() > time.Second+sameMoment {
				t.Errorf("%s: activity %d (%s): time off by %v", sc, i, a.User, d)
			}
		}
		if d := w.StartedAt.Sub(a.StartedAt); d > offerEarlier+time.Second || d < -time.Second-sameMoment {
			t.Errorf("%s: activity %d (%s): start off by %v", sc, i, a.User, d)
		}
	}
}

// sameActivities compares everything, times exactly.
func sameActivities(a, b []bridge.Activity) bool { return sameWithin(a, b, 0) }

// sameWithin compares everything, times within tol.
func sameWithin(a, b []bridge.Activity, tol time.Duration) bool {
	close := func(x, y time.Time) bool { return x.IsZero() == y.IsZero() && x.Sub(y).Abs() <= tol }
	return slices.EqualFunc(a, b, func(x, y bridge.Activity) bool {
		return x.ID == y.ID && brief([]bridge.Activity{x}) == brief([]bridge.Activity{y}) &&
			close(x.StartedAt, y.StartedAt) && close(x.AnsweredAt, y.AnsweredAt) && close(x.EndedAt, y.EndedAt)
	})
}
