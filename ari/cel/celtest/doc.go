// Package celtest runs the database servers CEL is read from, for tests:
// PostgreSQL (as cel_pgsql writes to it) and MariaDB (FreePBX's
// asteriskcdrdb, written through cel_odbc), each on a free loopback port in
// a scratch directory removed at the end of the test, as an unprivileged
// user when the test runs as root. It also creates the CEL tables as their
// backends expect them and fills them the way the backends do.
package celtest
