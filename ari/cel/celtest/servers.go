package celtest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Server is a database server started for a test. User and Password are
// an account that may read the CEL database (DSN names it, without the
// password, as a callbridge config would); Admin is a superuser
// connection to the same database, for creating and filling tables.
type Server struct {
	DSN      string
	User     string
	Password string
	Admin    *sql.DB
	Port     int
}

// Postgres starts a PostgreSQL server (initdb and postgres of the newest
// /usr/lib/postgresql/<version>/bin, Debian's layout, else PATH) in a
// scratch directory on a free loopback port, with password (SCRAM)
// authentication over TCP, a database "asterisk" and a role "callbridge"
// that may read it. It is stopped and its directory removed when the test
// ends. A missing binary fails the test.
func Postgres(t testing.TB) *Server {
	t.Helper()
	initdb, err := findBin("initdb", "/usr/lib/postgresql/*/bin")
	if err != nil {
		t.Fatal(err)
	}
	postgres := filepath.Join(filepath.Dir(initdb), "postgres")
	p := newProcess(t, "celtest-pg-")
	superPW := password()
	pwfile := filepath.Join(p.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(superPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.chown(pwfile); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(p.dir, "data")
	if err := p.run(initdb, "-D", data, "-U", "postgres", "--pwfile", pwfile, "--auth-local=trust",
		"--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	if err := p.start(postgres, "-D", data, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", p.dir,
		"-F", "-c", "TimeZone=UTC", "-c", "log_min_messages=warning", "-c", "max_connections=20"); err != nil {
		t.Fatal(err)
	}
	admin, err := waitSQL(p, func() (*sql.DB, error) {
		cc, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", port))
		if err != nil {
			return nil, err
		}
		cc.Password = superPW
		return stdlib.OpenDB(*cc), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{User: "callbridge", Password: password(), Port: port}
	for _, q := range []string{
		"CREATE DATABASE asterisk",
		fmt.Sprintf("CREATE ROLE callbridge LOGIN PASSWORD '%s'", s.Password),
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("postgres: %s: %v", q, err)
		}
	}
	admin.Close()
	cc, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=asterisk sslmode=disable", port))
	if err != nil {
		t.Fatal(err)
	}
	cc.Password = superPW
	s.Admin = stdlib.OpenDB(*cc)
	t.Cleanup(func() { s.Admin.Close() })
	if _, err := s.Admin.Exec("GRANT SELECT ON ALL TABLES IN SCHEMA public TO callbridge; " +
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO callbridge"); err != nil {
		t.Fatal(err)
	}
	s.DSN = fmt.Sprintf("host=127.0.0.1 port=%d user=callbridge dbname=asterisk sslmode=disable", port)
	return s
}

// MariaDB starts a MariaDB server (mariadbd, mariadb-install-db) in a
// scratch directory on a free loopback port, with a database
// "asteriskcdrdb", as FreePBX names it, and a user "callbridge" that may
// read it. It is stopped and its directory removed when the test ends. A
// missing binary fails the test.
func MariaDB(t testing.TB) *Server {
	t.Helper()
	mariadbd, err := findBin("mariadbd", "/usr/sbin", "/usr/libexec")
	if err != nil {
		t.Fatal(err)
	}
	install, err := findBin("mariadb-install-db", "/usr/bin")
	if err != nil {
		t.Fatal(err)
	}
	p := newProcess(t, "celtest-mariadb-")
	data := filepath.Join(p.dir, "data")
	runAs := "--user=" + currentUser(p)
	if err := p.run(install, "--no-defaults", runAs, "--datadir="+data, "--auth-root-authentication-method=normal",
		"--skip-test-db"); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	if err := p.start(mariadbd, "--no-defaults", runAs, "--datadir="+data, "--port="+strconv.Itoa(port),
		"--bind-address=127.0.0.1", "--socket="+filepath.Join(p.dir, "mariadb.sock"),
		"--pid-file="+filepath.Join(p.dir, "mariadb.pid"), "--skip-name-resolve", "--skip-log-bin",
		"--innodb-buffer-pool-size=16M", "--log-error="+filepath.Join(p.dir, "server.log")); err != nil {
		t.Fatal(err)
	}
	rootDSN := func(db string) *mysql.Config {
		c := mysql.NewConfig()
		c.User, c.Net, c.Addr, c.DBName = "root", "tcp", fmt.Sprintf("127.0.0.1:%d", port), db
		c.MultiStatements = true
		return c
	}
	admin, err := waitSQL(p, func() (*sql.DB, error) {
		conn, err := mysql.NewConnector(rootDSN(""))
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(conn), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{User: "callbridge", Password: password(), Port: port}
	for _, q := range []string{
		"CREATE DATABASE asteriskcdrdb",
		fmt.Sprintf("CREATE USER 'callbridge'@'%%' IDENTIFIED BY '%s'", s.Password),
		"GRANT SELECT ON asteriskcdrdb.* TO 'callbridge'@'%'",
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("mariadb: %s: %v", q, err)
		}
	}
	admin.Close()
	conn, err := mysql.NewConnector(rootDSN("asteriskcdrdb"))
	if err != nil {
		t.Fatal(err)
	}
	s.Admin = sql.OpenDB(conn)
	t.Cleanup(func() { s.Admin.Close() })
	s.DSN = fmt.Sprintf("callbridge@tcp(127.0.0.1:%d)/asteriskcdrdb", port)
	return s
}

// currentUser is the user mariadbd runs as: nobody under root, else the
// test's own.
func currentUser(p *process) string {
	if p.uid >= 0 {
		return "nobody"
	}
	if name := os.Getenv("USER"); name != "" {
		return name
	}
	return strconv.Itoa(os.Geteuid())
}

// waitSQL connects until the server answers, for up to 60 s (a shared CI
// machine can be slow to start a database).
func waitSQL(p *process, open func() (*sql.DB, error)) (*sql.DB, error) {
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if log, gone := p.exited(); gone {
			return nil, fmt.Errorf("server exited: %s", log)
		}
		db, err := open()
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err = db.PingContext(ctx)
			cancel()
			if err == nil {
				return db, nil
			}
			db.Close()
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("server did not answer within 60 s: %v", last)
}
