package dialect

import (
	"fmt"
	"strings"
)

// Target is a parsed connection string.
type Target struct {
	// Dialect is the dialect the connection string is for.
	Dialect Name
	// DSN is the driver-native DSN to hand the GORM driver: a PostgreSQL URL
	// or key=value string for pgx, a go-sql-driver DSN for MySQL, a file path
	// (or file: URI) with driver query parameters for SQLite.
	DSN string
}

// String returns the DSN with any password hidden, so a Target can be logged
// or printed with %v safely.
func (t Target) String() string {
	return Redact(t.DSN)
}

// Database returns the database the target names: the database name for
// PostgreSQL and MySQL ("" when the DSN names none), the file path (or file:
// URI) for SQLite, ":memory:" for a private in-memory SQLite database.
func (t Target) Database() string {
	switch t.Dialect {
	case Postgres:
		return postgresDatabase(t.DSN)
	case MySQL:
		return mysqlDatabase(t.DSN)
	case SQLite:
		d := splitSQLite(t.DSN)
		if d.memory() && !strings.HasPrefix(d.base, "file:") {
			return ":memory:"
		}
		return d.base
	}
	return ""
}

// WithDatabase returns a copy of t that names database name on the same
// server with the same user and parameters: a database name for PostgreSQL
// and MySQL, a file path for SQLite. It is how one admin connection string
// yields the connection string of another database.
func (t Target) WithDatabase(name string) (Target, error) {
	var (
		dsn string
		err error
	)
	switch t.Dialect {
	case Postgres:
		dsn, err = postgresWithDatabase(t.DSN, name)
	case MySQL:
		dsn, err = mysqlWithDatabase(t.DSN, name)
	case SQLite:
		if name == "" {
			err = fmt.Errorf("empty SQLite path")
			break
		}
		d := splitSQLite(t.DSN)
		d.base = name
		dsn = d.String()
	default:
		err = fmt.Errorf("unknown dialect %q", t.Dialect)
	}
	if err != nil {
		return Target{}, fmt.Errorf("replace database of %s: %w", t, err)
	}
	return Target{Dialect: t.Dialect, DSN: dsn}, nil
}

// DSNError reports a connection string that ParseDSN or Open cannot use.
// Input is already redacted: the error never carries a password.
type DSNError struct {
	// Input is the connection string, with any password replaced by "xxxxx".
	Input string
	// Reason says what is wrong with it.
	Reason string
	// Hint says how to write it instead.
	Hint string
}

// Error implements error.
func (e *DSNError) Error() string {
	msg := fmt.Sprintf("invalid connection string %q: %s", e.Input, e.Reason)
	if e.Hint != "" {
		msg += "; hint: " + e.Hint
	}
	return msg
}

// formsHint lists the accepted connection string forms.
const formsHint = `use one of postgres://user:pass@host:5432/db?sslmode=disable, "host=... port=5432 user=... dbname=...", ` +
	`mysql://user:pass@host:3306/db, user:pass@tcp(host:3306)/db?parseTime=true, ` +
	`sqlite:path/to/file.db, a path ending in .db, .sqlite or .sqlite3, or sqlite::memory:`

// escapeHint is the hint for URLs that do not parse.
const escapeHint = `percent-encode special characters in the user name and password (@ as %40, : as %3A, / as %2F, ? as %3F, # as %23, % as %25)`

func dsnError(input, reason, hint string) *DSNError {
	return &DSNError{Input: Redact(input), Reason: reason, Hint: hint}
}

// ParseDSN recognises the dialect of a connection string and converts it to
// the DSN its GORM driver takes. It accepts:
//
//   - PostgreSQL: postgres:// and postgresql:// URLs, and libpq key=value
//     strings such as "host=localhost port=5432 dbname=app";
//   - MySQL and MariaDB: mysql://user:pass@host:port/db?params URLs, which are
//     converted to user:pass@tcp(host:port)/db?params, and native
//     go-sql-driver DSNs such as "user:pass@tcp(host:3306)/db". Both get
//     parseTime=true and multiStatements=false unless they set them;
//     parseTime=false is refused;
//   - SQLite: sqlite:PATH, sqlite://PATH, file:PATH (an SQLite URI), a path
//     ending in .db, .sqlite or .sqlite3, and sqlite::memory: for a private
//     in-memory database. The DSN gets the connection pragmas Open needs.
//
// Errors are *DSNError and never contain the password.
func ParseDSN(dsn string) (Target, error) {
	s := strings.TrimSpace(dsn)
	switch {
	case s == "":
		return Target{}, &DSNError{Reason: "empty connection string", Hint: formsHint}
	case isSQLitePrefix(s):
		return parseSQLite(s)
	case schemeEnd(s) >= 0:
		switch sc := scheme(s); sc {
		case "postgres", "postgresql":
			return parsePostgresURL(s)
		case "mysql", "mariadb":
			return parseMySQLURL(s)
		default:
			return Target{}, dsnError(s, fmt.Sprintf("unsupported scheme %q", sc), formsHint)
		}
	case looksLikeMySQLNative(s):
		return parseMySQLNative(s)
	case kvStart.MatchString(s):
		return parsePostgresKV(s)
	case hasSQLiteSuffix(s):
		return parseSQLite(s)
	}
	return Target{}, dsnError(s, "not a connection string tandem recognises", formsHint)
}
