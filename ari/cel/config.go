package cel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/callbridge/callbridge/internal/secret"
)

// Secret is a string that never prints; see internal/secret.
type Secret = secret.Secret

// Source types.
const (
	TypeCSV      = "csv"
	TypePostgres = "postgres"
	TypeMySQL    = "mysql"
)

// Defaults.
const (
	DefaultTable    = "cel"
	DefaultTimeZone = "Local"
	DefaultMargin   = 2 * time.Minute
)

// Config says where CEL is read from (the cel: section of callbridge's
// config). Keys in errors are relative to the section.
type Config struct {
	// Type is csv (cel_custom's file), postgres (cel_pgsql's table) or
	// mysql (MySQL or MariaDB, FreePBX's asteriskcdrdb.cel via cel_odbc).
	Type string `yaml:"type"`

	// File is the CSV cel_custom writes (type csv), e.g.
	// /var/log/asterisk/cel-custom/Master.csv.
	File string `yaml:"file"`
	// Fields is the fields = list of its cel_custom.conf section, in
	// order. Empty: the lab's layout (LabFields).
	Fields []string `yaml:"fields"`

	// DSN locates the database, without the password. postgres: a libpq
	// connection string, "host=pbx dbname=asterisk user=callbridge" or
	// postgres://callbridge@pbx/asterisk. mysql: go-sql-driver's form,
	// callbridge@tcp(pbx:3306)/asteriskcdrdb.
	DSN string `yaml:"dsn"`
	// The database password: at most one of the value, a file holding
	// it, or the name of a systemd credential read from
	// $CREDENTIALS_DIRECTORY. None: the server needs none (peer or trust
	// authentication, ~/.pgpass).
	Password           Secret `yaml:"password"`
	PasswordFile       string `yaml:"password_file"`
	PasswordCredential string `yaml:"password_credential"`
	// Table is the CEL table, optionally schema-qualified. Default cel.
	Table string `yaml:"table"`

	// TimeZone is the zone of event times stored without one: the
	// Asterisk host's zone, in which cel_pgsql and cel_odbc write
	// eventtime unless usegmtime=yes (then UTC), and in which cel_custom
	// writes dates when cel.conf sets a dateformat. An IANA name, UTC or
	// Local (this host's zone). Default Local.
	TimeZone string `yaml:"time_zone"`

	// Margin widens the window read around a gap on both sides, for
	// clocks that disagree a little and for times kept to the second.
	// Default 2m.
	Margin time.Duration `yaml:"margin"`
}

var tableRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$`)

// pgPasswordRE finds a password in a libpq keyword/value string.
var pgPasswordRE = regexp.MustCompile(`(?i)(^|\s)password\s*=`)

// Validate returns every problem, joined, each naming its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	db := c.Type == TypePostgres || c.Type == TypeMySQL
	switch c.Type {
	case "":
		bad("type", "required: csv, postgres or mysql")
	case TypeCSV:
		if c.File == "" {
			bad("file", "required with type csv")
		}
		if len(c.Fields) > 0 {
			if _, err := NewLayout(c.Fields, time.UTC); err != nil {
				errs = append(errs, err)
			}
		}
		for _, k := range []struct {
			key string
			set bool
		}{{"dsn", c.DSN != ""}, {"table", c.Table != ""}, {"password", c.Password != ""},
			{"password_file", c.PasswordFile != ""}, {"password_credential", c.PasswordCredential != ""}} {
			if k.set {
				bad(k.key, "only with type postgres or mysql")
			}
		}
	case TypePostgres, TypeMySQL:
		if c.File != "" {
			bad("file", "only with type csv")
		}
		if len(c.Fields) > 0 {
			bad("fields", "only with type csv")
		}
		c.validateDSN(bad)
	default:
		bad("type", "%q: want csv, postgres or mysql", c.Type)
	}
	if db {
		n := 0
		for _, set := range []bool{c.Password != "", c.PasswordFile != "", c.PasswordCredential != ""} {
			if set {
				n++
			}
		}
		if n > 1 {
			bad("password", "set only one of password, password_file, password_credential")
		}
		if cr := c.PasswordCredential; cr != "" && (strings.ContainsAny(cr, `/\`) || cr == "." || cr == "..") {
			bad("password_credential", "a credential name, not a path")
		}
		if c.Table != "" && !tableRE.MatchString(c.Table) {
			bad("table", "%q: want a table name, optionally schema.table (letters, digits, _)", c.Table)
		}
	}
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			bad("time_zone", "%q: not a time zone (an IANA name such as Europe/Helsinki, UTC or Local)", c.TimeZone)
		}
	}
	if c.Margin < 0 || c.Margin > 24*time.Hour {
		bad("margin", "want 0 (the default, %v) to 24h", DefaultMargin)
	}
	return errors.Join(errs...)
}

// validateDSN checks the DSN parses and carries no password: a DSN is not
// a secret and may end up in a log, so the password has its own keys.
func (c Config) validateDSN(bad func(key, format string, args ...any)) {
	if c.DSN == "" {
		bad("dsn", "required with type %s", c.Type)
		return
	}
	if c.Type == TypePostgres {
		if u, err := url.Parse(c.DSN); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
			if _, ok := u.User.Password(); ok || u.Query().Has("password") {
				bad("dsn", "holds a password; put it in password, password_file or password_credential")
				return
			}
		} else if pgPasswordRE.MatchString(c.DSN) {
			bad("dsn", "holds a password; put it in password, password_file or password_credential")
			return
		}
		if _, err := pgx.ParseConfig(c.DSN); err != nil {
			bad("dsn", "not a PostgreSQL connection string (keyword=value or postgres://user@host/db)")
		}
		return
	}
	mc, err := mysql.ParseDSN(c.DSN)
	if err != nil {
		bad("dsn", "not a MySQL DSN (user@tcp(host:3306)/asteriskcdrdb): %v", err)
		return
	}
	if mc.Passwd != "" {
		bad("dsn", "holds a password; put it in password, password_file or password_credential")
	}
}

// Location is the configured time zone.
func (c Config) Location() (*time.Location, error) {
	tz := c.TimeZone
	if tz == "" {
		tz = DefaultTimeZone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("time_zone: %w", err)
	}
	return loc, nil
}

// MarginOrDefault is Margin, or DefaultMargin when it is 0.
func (c Config) MarginOrDefault() time.Duration {
	if c.Margin == 0 {
		return DefaultMargin
	}
	return c.Margin
}

// Open validates c and opens its source: for a database, it connects and
// inspects the table (which columns it has, how it stores eventtime).
// Errors name the key or the server, never the password.
func Open(ctx context.Context, c Config) (Source, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	loc, err := c.Location()
	if err != nil {
		return nil, err
	}
	if c.Type == TypeCSV {
		fields := c.Fields
		if len(fields) == 0 {
			fields = LabFields
		}
		l, err := NewLayout(fields, loc)
		if err != nil {
			return nil, err
		}
		return &File{Path: c.File, Layout: l}, nil
	}
	var pw string
	if c.Password != "" || c.PasswordFile != "" || c.PasswordCredential != "" {
		if pw, err = secret.Load("password", c.Password, c.PasswordFile, c.PasswordCredential); err != nil {
			return nil, err
		}
	}
	table := c.Table
	if table == "" {
		table = DefaultTable
	}
	var db *sql.DB
	d := postgresDialect
	if c.Type == TypePostgres {
		cc, err := pgx.ParseConfig(c.DSN)
		if err != nil {
			return nil, errors.New("dsn: not a PostgreSQL connection string")
		}
		if pw != "" {
			cc.Password = pw
		}
		if cc.RuntimeParams == nil {
			cc.RuntimeParams = map[string]string{}
		}
		cc.RuntimeParams["application_name"] = "callbridge"
		db = stdlib.OpenDB(*cc)
	} else {
		d = mysqlDialect
		mc, err := mysql.ParseDSN(c.DSN)
		if err != nil {
			return nil, fmt.Errorf("dsn: %w", err)
		}
		if pw != "" {
			mc.Passwd = pw
		}
		// Text times, converted here: a datetime is the PBX's wall
		// clock (time_zone), a timestamp is read in a UTC session.
		mc.ParseTime = false
		mc.Loc = time.UTC
		if mc.Params == nil {
			mc.Params = map[string]string{}
		}
		mc.Params["time_zone"] = "'+00:00'"
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			return nil, fmt.Errorf("dsn: %w", err)
		}
		db = sql.OpenDB(conn)
	}
	db.SetMaxOpenConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("cel: %s: connect: %w", d.name, err)
	}
	r, err := openDB(ctx, db, d, table, loc)
	if err != nil {
		db.Close()
		return nil, err
	}
	return r, nil
}
