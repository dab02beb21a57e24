package cel

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The tables read here, as the backends write them. Both are adaptive:
// cel_pgsql and cel_odbc list the table's columns at load and fill those
// whose names they know (cel/cel_pgsql.c, cel/cel_odbc.c in Asterisk 22),
// so a table may lack some columns; the reader asks the table which it has.
//
// cel_pgsql (configs/samples/cel_pgsql.conf.sample names the columns):
// eventtype, eventtime, userdeftype, cid_name, cid_num, cid_ani, cid_rdnis,
// cid_dnid, exten, context, channame, appname, appdata, accountcode,
// peeraccount, uniqueid, linkedid, amaflags, userfield, peer, extra; an
// id serial if the admin adds one. eventtime: a timestamp column gets the
// event's local time (UTC with usegmtime=yes) as text with microseconds,
// "%Y-%m-%d %T.%6q"; an integer or float column gets epoch seconds.
// eventtype: the name ("CHAN_START"; a user event's own name unless
// show_user_defined=yes) in a text column, enum ast_cel_event_type's
// number in an integer one.
//
// FreePBX (the cel module's install.php creates asteriskcdrdb.cel; Asterisk
// writes it through cel_odbc, [cel] connection=asteriskcdrdb table=cel):
//
//	id int(11) auto_increment, eventtype varchar(30), eventtime datetime,
//	cid_name, cid_num, cid_ani, cid_rdnis, cid_dnid, exten, context,
//	channame, appname varchar(80), appdata varchar(255), amaflags int(11),
//	accountcode varchar(20), uniqueid, linkedid varchar(32), peer varchar(80),
//	userdeftype varchar(255), extra varchar(512)
//
// (no userfield, no peeraccount; indexes on uniqueid, linkedid, context,
// none on eventtime). cel_odbc formats eventtime as local time (usegmtime
// off) with microseconds; a datetime column without fractional seconds
// keeps whole seconds: MySQL rounds, MariaDB truncates. Older FreePBX
// schemas call extra eventextra.

// dialect is what differs between the two SQL servers.
type dialect struct {
	name  string
	quote func(string) string
	param func(n int, cast string) string
}

var (
	postgresDialect = dialect{
		name:  "postgres",
		quote: func(s string) string { return `"` + s + `"` },
		param: func(n int, cast string) string {
			if cast != "" {
				return "$" + strconv.Itoa(n) + "::" + cast
			}
			return "$" + strconv.Itoa(n)
		},
	}
	mysqlDialect = dialect{
		name:  "mysql",
		quote: func(s string) string { return "`" + s + "`" },
		param: func(int, string) string { return "?" },
	}
)

// timeKind is how a table stores eventtime.
type timeKind uint8

const (
	timeWall       timeKind = iota // a date and time without zone: the PBX's local time (or UTC, usegmtime)
	timeAbsolute                   // PostgreSQL timestamptz, MySQL timestamp: an instant
	timeEpochInt                   // integer seconds
	timeEpochFloat                 // seconds with a fraction
)

// columns the reader selects, by the names both backends use.
var rowColumns = []string{
	"eventtype", "eventtime", "userdeftype", "cid_name", "cid_num", "cid_ani", "cid_rdnis", "cid_dnid",
	"exten", "context", "channame", "appname", "appdata", "accountcode", "uniqueid", "linkedid",
	"peer", "userfield", "extra",
}

var requiredColumns = []string{"eventtype", "eventtime", "uniqueid", "linkedid", "channame"}

// DB reads CEL rows from a cel_pgsql or FreePBX table. It is safe for
// concurrent use.
type DB struct {
	db       *sql.DB
	d        dialect
	table    string   // quoted
	cols     []string // the rowColumns the table has, in select order
	idCol    bool
	kind     timeKind
	textTime bool // eventtime is a text column
	loc      *time.Location
	sel      string // SELECT … FROM … up to WHERE
	orderBy  string

	mu    sync.Mutex
	stats Stats
}

// openDB inspects the table of an open database: which columns it has and
// how it stores time.
func openDB(ctx context.Context, db *sql.DB, d dialect, table string, loc *time.Location) (*DB, error) {
	parts := strings.Split(table, ".")
	for i, p := range parts {
		parts[i] = d.quote(p)
	}
	r := &DB{db: db, d: d, table: strings.Join(parts, "."), loc: loc}
	rows, err := db.QueryContext(ctx, "SELECT * FROM "+r.table+" WHERE 1=0")
	if err != nil {
		return nil, fmt.Errorf("cel: %s: table %s: %w", d.name, table, err)
	}
	types, err := rows.ColumnTypes()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("cel: %s: table %s: %w", d.name, table, err)
	}
	have := map[string]*sql.ColumnType{}
	for _, t := range types {
		have[strings.ToLower(t.Name())] = t
	}
	if have["extra"] == nil && have["eventextra"] != nil {
		have["extra"] = have["eventextra"]
	}
	for _, c := range requiredColumns {
		if have[c] == nil {
			return nil, fmt.Errorf("cel: %s: table %s has no column %s", d.name, table, c)
		}
	}
	var sel []string
	for _, c := range rowColumns {
		if t := have[c]; t != nil {
			r.cols = append(r.cols, c)
			sel = append(sel, d.quote(t.Name()))
		}
	}
	if t := have["id"]; t != nil {
		r.idCol = true
		sel = append(sel, d.quote(t.Name()))
		r.orderBy = " ORDER BY " + d.quote(t.Name())
	} else {
		r.orderBy = " ORDER BY " + d.quote(have["eventtime"].Name())
	}
	typ := strings.ToUpper(have["eventtime"].DatabaseTypeName())
	r.textTime = strings.Contains(typ, "CHAR") || strings.Contains(typ, "TEXT")
	r.kind, err = eventTimeKind(d, typ)
	if err != nil {
		return nil, fmt.Errorf("cel: %s: table %s: %w", d.name, table, err)
	}
	r.sel = "SELECT " + strings.Join(sel, ", ") + " FROM " + r.table
	return r, nil
}

func eventTimeKind(d dialect, typ string) (timeKind, error) {
	t := strings.TrimPrefix(typ, "UNSIGNED ")
	switch {
	case t == "TIMESTAMPTZ" || (d.name == "mysql" && t == "TIMESTAMP"):
		return timeAbsolute, nil
	case t == "TIMESTAMP" || t == "DATETIME" || strings.Contains(t, "CHAR") || t == "TEXT":
		return timeWall, nil
	case strings.HasPrefix(t, "INT") || strings.HasSuffix(t, "INT") || t == "BIGINT":
		return timeEpochInt, nil
	case strings.HasPrefix(t, "FLOAT") || t == "DOUBLE" || t == "NUMERIC" || t == "DECIMAL" || t == "REAL":
		return timeEpochFloat, nil
	}
	return 0, fmt.Errorf("eventtime is %s; want a timestamp, datetime, text or epoch number column", typ)
}

// Close closes the database.
func (r *DB) Close() error { return r.db.Close() }

// Stats counts the rows read so far and those that could not be read.
func (r *DB) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats
	st.Problems = append([]string(nil), st.Problems...)
	return st
}

// Window returns the rows with from <= eventtime < to, in the order they
// were written (the id column's, else eventtime's).
func (r *DB) Window(ctx context.Context, from, to time.Time) ([]Row, error) {
	col := r.d.quote("eventtime")
	cast := ""
	if r.d.name == "postgres" {
		switch r.kind {
		case timeWall:
			cast = "timestamp"
		case timeAbsolute:
			cast = "timestamptz"
		case timeEpochInt:
			cast = "bigint"
		case timeEpochFloat:
			cast = "double precision"
		}
		if r.textTime {
			// Compared as text: the fixed "%Y-%m-%d %T.%6q"
			// format sorts as time does.
			cast = ""
		}
	}
	q := r.sel + " WHERE " + col + " >= " + r.d.param(1, cast) + " AND " + col + " < " + r.d.param(2, cast) + r.orderBy
	rows, err := r.query(ctx, q, r.bound(from, false), r.bound(to, true))
	if err != nil {
		return nil, err
	}
	if !r.idCol {
		sortRows(rows, false)
	}
	return rows, nil
}

// bound is a window edge as the column compares: local wall-clock text,
// an instant, or epoch seconds (rounded outwards).
func (r *DB) bound(t time.Time, upper bool) any {
	switch r.kind {
	case timeAbsolute:
		if r.d.name == "postgres" {
			return t.UTC().Format("2006-01-02 15:04:05.000000Z07:00")
		}
		return t.UTC().Format("2006-01-02 15:04:05.000000") // the session is in UTC
	case timeEpochInt:
		s := t.Unix()
		if upper && t.Nanosecond() > 0 {
			s++
		}
		return s
	case timeEpochFloat:
		return float64(t.UnixMicro()) / 1e6
	}
	return t.In(r.loc).Format("2006-01-02 15:04:05.000000")
}

// maxIDs is how many ids go into one IN list.
const maxIDs = 200

// Related returns every row whose linkedid is one of linked or whose
// uniqueid is one of unique: the whole history of those calls and
// channels, in the order written.
func (r *DB) Related(ctx context.Context, linked, unique []string) ([]Row, error) {
	var out []Row
	for _, set := range []struct {
		col string
		ids []string
	}{{"linkedid", linked}, {"uniqueid", unique}} {
		for i := 0; i < len(set.ids); i += maxIDs {
			chunk := set.ids[i:min(len(set.ids), i+maxIDs)]
			ph := make([]string, len(chunk))
			args := make([]any, len(chunk))
			for j, id := range chunk {
				ph[j] = r.d.param(j+1, "")
				args[j] = id
			}
			q := r.sel + " WHERE " + r.d.quote(set.col) + " IN (" + strings.Join(ph, ", ") + ")" + r.orderBy
			rows, err := r.query(ctx, q, args...)
			if err != nil {
				return nil, err
			}
			out = append(out, rows...)
		}
	}
	return dedupe(out, r.idCol), nil
}

func (r *DB) query(ctx context.Context, q string, args ...any) ([]Row, error) {
	rows, err := r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cel: %s: query %s: %w", r.d.name, r.table, err)
	}
	defer rows.Close()
	n := len(r.cols)
	strs := make([]sql.NullString, n)
	var when any
	var id sql.NullInt64
	dest := make([]any, 0, n+1)
	for i, c := range r.cols {
		if c == "eventtime" {
			dest = append(dest, &when)
		} else {
			dest = append(dest, &strs[i])
		}
	}
	if r.idCol {
		dest = append(dest, &id)
	}
	var out []Row
	var st Stats
	for rows.Next() {
		st.Rows++
		if err := rows.Scan(dest...); err != nil {
			st.problem(fmt.Sprintf("row: %v", err))
			continue
		}
		row, err := r.row(strs, when)
		if err != nil {
			st.problem(fmt.Sprintf("row %d (%s): %v", id.Int64, strs[r.index("uniqueid")].String, err))
			continue
		}
		row.Seq = id.Int64
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cel: %s: read %s: %w", r.d.name, r.table, err)
	}
	r.mu.Lock()
	r.stats.add(st)
	r.mu.Unlock()
	return out, nil
}

func (r *DB) index(col string) int {
	for i, c := range r.cols {
		if c == col {
			return i
		}
	}
	return -1
}

func (r *DB) row(strs []sql.NullString, when any) (Row, error) {
	var row Row
	get := func(col string) string {
		if i := r.index(col); i >= 0 {
			return strs[i].String
		}
		return ""
	}
	if err := row.SetEvent(get("eventtype"), get("userdeftype")); err != nil {
		return Row{}, err
	}
	t, err := r.eventTime(when)
	if err != nil {
		return Row{}, err
	}
	row.Time = t
	row.CallerName, row.CallerNum = get("cid_name"), get("cid_num")
	row.ANI, row.RDNIS, row.DNID = get("cid_ani"), get("cid_rdnis"), get("cid_dnid")
	row.Exten, row.Context, row.ChanName = get("exten"), get("context"), get("channame")
	row.AppName, row.AppData, row.AccountCode = get("appname"), get("appdata"), get("accountcode")
	row.UniqueID, row.LinkedID = get("uniqueid"), get("linkedid")
	row.Peer, row.UserField, row.Extra = get("peer"), get("userfield"), get("extra")
	return row, nil
}

// eventTime converts what the driver gave for eventtime.
func (r *DB) eventTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		if r.kind == timeWall {
			// A zoneless column: the driver hands the wall clock in
			// UTC; it is the PBX's local time.
			return time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), r.loc).UTC(), nil
		}
		return v.UTC(), nil
	case []byte:
		return r.parseTime(string(v))
	case string:
		return r.parseTime(v)
	case int64:
		return time.Unix(v, 0).UTC(), nil
	case float64:
		return time.UnixMicro(int64(v*1e6 + 0.5)).UTC(), nil
	case nil:
		return time.Time{}, fmt.Errorf("no event time")
	}
	return time.Time{}, fmt.Errorf("event time of type %T", v)
}

func (r *DB) parseTime(s string) (time.Time, error) {
	switch r.kind {
	case timeAbsolute:
		return ParseTime(s, time.UTC)
	case timeEpochInt, timeEpochFloat:
		return parseEpoch(strings.TrimSpace(s))
	}
	return ParseTime(s, r.loc)
}
