package celtest

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari/cel"
)

// PgsqlTable is a cel table as an admin creates it for cel_pgsql: the
// columns configs/samples/cel_pgsql.conf.sample lists (Asterisk 22), an id
// serial, and eventtime a timestamp without time zone, into which
// cel_pgsql writes the event's local time with microseconds.
const PgsqlTable = `CREATE TABLE %s (
	id serial PRIMARY KEY,
	eventtype varchar(30) NOT NULL,
	eventtime timestamp NOT NULL,
	userdeftype varchar(255) NOT NULL,
	cid_name varchar(80) NOT NULL,
	cid_num varchar(80) NOT NULL,
	cid_ani varchar(80) NOT NULL,
	cid_rdnis varchar(80) NOT NULL,
	cid_dnid varchar(80) NOT NULL,
	exten varchar(80) NOT NULL,
	context varchar(80) NOT NULL,
	channame varchar(80) NOT NULL,
	appname varchar(80) NOT NULL,
	appdata varchar(80) NOT NULL,
	amaflags int NOT NULL,
	accountcode varchar(20) NOT NULL,
	peeraccount varchar(20) NOT NULL,
	uniqueid varchar(150) NOT NULL,
	linkedid varchar(150) NOT NULL,
	userfield varchar(255) NOT NULL,
	peer varchar(80) NOT NULL,
	extra varchar(512) NOT NULL
)`

// FreePBXTable is asteriskcdrdb.cel as FreePBX's cel module creates it
// (install.php): eventtime a datetime without fractional seconds, no
// userfield or peeraccount, no index on eventtime.
const FreePBXTable = "CREATE TABLE %s (\n" +
	"`id` int(11) NOT NULL auto_increment,\n" +
	"`eventtype` varchar(30) NOT NULL,\n" +
	"`eventtime` datetime NOT NULL,\n" +
	"`cid_name` varchar(80) NOT NULL,\n" +
	"`cid_num` varchar(80) NOT NULL,\n" +
	"`cid_ani` varchar(80) NOT NULL,\n" +
	"`cid_rdnis` varchar(80) NOT NULL,\n" +
	"`cid_dnid` varchar(80) NOT NULL,\n" +
	"`exten` varchar(80) NOT NULL,\n" +
	"`context` varchar(80) NOT NULL,\n" +
	"`channame` varchar(80) NOT NULL,\n" +
	"`appname` varchar(80) NOT NULL,\n" +
	"`appdata` varchar(255) NOT NULL,\n" +
	"`amaflags` int(11) NOT NULL,\n" +
	"`accountcode` varchar(20) NOT NULL,\n" +
	"`uniqueid` varchar(32) NOT NULL,\n" +
	"`linkedid` varchar(32) NOT NULL,\n" +
	"`peer` varchar(80) NOT NULL,\n" +
	"`userdeftype` varchar(255) NOT NULL,\n" +
	"`extra` varchar(512) NOT NULL,\n" +
	"PRIMARY KEY (`id`),\n" +
	"KEY `uniqueid_index` (`uniqueid`),\n" +
	"KEY `linkedid_index` (`linkedid`),\n" +
	"KEY `context_index` (`context`)\n)"

// Create runs a CREATE TABLE template (PgsqlTable, FreePBXTable) for table.
func Create(t testing.TB, db *sql.DB, template, table string) {
	t.Helper()
	if _, err := db.Exec(fmt.Sprintf(template, table)); err != nil {
		t.Fatalf("create %s: %v", table, err)
	}
}

// Insert writes rows as the CEL backends do: every column the table has
// that a backend knows; eventtime as the event's wall-clock time in loc
// with microseconds ("%Y-%m-%d %T.%6q", what cel_pgsql and cel_odbc send;
// a datetime column keeps whole seconds), or epoch seconds into a number
// column; eventtype the event's name or a user event's own name
// (show_user_defined=no), or its number into an integer column. placeholder is "$" for
// PostgreSQL, "?" for MySQL.
func Insert(t testing.TB, db *sql.DB, table, placeholder string, rows []cel.Row, loc *time.Location) {
	t.Helper()
	have, types := columns(t, db, table)
	var cols []string
	for _, c := range []string{"eventtype", "eventtime", "userdeftype", "cid_name", "cid_num", "cid_ani", "cid_rdnis",
		"cid_dnid", "exten", "context", "channame", "appname", "appdata", "amaflags", "accountcode", "peeraccount",
		"uniqueid", "linkedid", "userfield", "peer", "extra"} {
		if have[c] {
			cols = append(cols, c)
		}
	}
	ph := make([]string, len(cols))
	for i := range ph {
		ph[i] = "?"
		if placeholder == "$" {
			ph[i] = fmt.Sprintf("$%d", i+1)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	st, err := tx.Prepare(fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(cols, ", "), strings.Join(ph, ", ")))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		args := make([]any, len(cols))
		for i, c := range cols {
			args[i] = value(&r, c, types[c], loc)
		}
		if _, err := st.Exec(args...); err != nil {
			t.Fatalf("insert %+v: %v", r, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// value is what a backend writes into col, of database type typ.
func value(r *cel.Row, col, typ string, loc *time.Location) any {
	num := strings.Contains(typ, "INT")
	float := strings.Contains(typ, "FLOAT") || strings.Contains(typ, "DOUBLE") || strings.Contains(typ, "NUMERIC") || strings.Contains(typ, "DECIMAL")
	switch col {
	case "eventtype":
		if num {
			return cel.EventCode(r.Event)
		}
		if r.Event == cel.EventUser {
			return r.UserEvent
		}
		return r.Event
	case "eventtime":
		switch {
		case num:
			return r.Time.Unix()
		case float:
			return fmt.Sprintf("%d.%06d", r.Time.Unix(), r.Time.Nanosecond()/1000)
		}
		return r.Time.In(loc).Format("2006-01-02 15:04:05.000000")
	case "userdeftype":
		return r.UserEvent
	case "cid_name":
		return r.CallerName
	case "cid_num":
		return r.CallerNum
	case "cid_ani":
		return r.ANI
	case "cid_rdnis":
		return r.RDNIS
	case "cid_dnid":
		return r.DNID
	case "exten":
		return r.Exten
	case "context":
		return r.Context
	case "channame":
		return r.ChanName
	case "appname":
		return r.AppName
	case "appdata":
		return r.AppData
	case "amaflags":
		return 3
	case "accountcode":
		return r.AccountCode
	case "uniqueid":
		return r.UniqueID
	case "linkedid":
		return r.LinkedID
	case "userfield":
		return r.UserField
	case "peer":
		return r.Peer
	case "extra":
		return r.Extra
	}
	return ""
}

// columns lists a table's columns and their database types.
func columns(t testing.TB, db *sql.DB, table string) (map[string]bool, map[string]string) {
	t.Helper()
	rows, err := db.Query("SELECT * FROM " + table + " WHERE 1=0")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	have, types := map[string]bool{}, map[string]string{}
	for _, c := range cts {
		n := strings.ToLower(c.Name())
		have[n], types[n] = true, strings.ToUpper(c.DatabaseTypeName())
	}
	return have, types
}
