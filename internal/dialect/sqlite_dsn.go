package dialect

import (
	"net/url"
	"strings"
)

// The connection settings Open gives every SQLite connection, unless the DSN
// sets them itself.
//
//   - busy_timeout(10000): a connection that finds the database locked by
//     another connection (of this pool, or of a second instance on the same
//     file) waits up to 10s instead of failing at once with SQLITE_BUSY.
//     Two instances of a service sharing one file is the situation tandem
//     exists for.
//   - foreign_keys(1): SQLite ignores FOREIGN KEY clauses unless this is set
//     on each connection; PostgreSQL and MySQL always enforce them, and the
//     dialects must behave alike.
//   - journal_mode(WAL), file databases only: readers do not block the
//     writer and the writer does not block readers, so one instance's
//     backfill does not stall the other's reads. The mode is stored in the
//     file; setting it on every connection is a no-op after the first.
//   - _txlock=immediate: transactions take the write lock at BEGIN. A
//     deferred transaction that reads and then writes can fail with
//     SQLITE_BUSY without waiting when another connection wrote in between;
//     busy_timeout cannot help there. Taking the lock up front makes the
//     wait, and busy_timeout, apply.
var sqliteDefaults = []struct{ pragma, param string }{
	{"busy_timeout", "_pragma=busy_timeout(10000)"},
	{"foreign_keys", "_pragma=foreign_keys(1)"},
	{"journal_mode", "_pragma=journal_mode(WAL)"},
}

// sqliteDSN is an SQLite DSN as the glebarez driver reads it: a base (a path,
// ":memory:", or a "file:" URI) and query parameters after the first '?'.
type sqliteDSN struct {
	base, query string
}

func splitSQLite(dsn string) sqliteDSN {
	base, query, _ := strings.Cut(dsn, "?")
	return sqliteDSN{base: base, query: query}
}

// String implements fmt.Stringer.
func (d sqliteDSN) String() string {
	if d.query == "" {
		return d.base
	}
	return d.base + "?" + d.query
}

// uri reports whether the base is an SQLite URI, whose query SQLite reads too.
func (d sqliteDSN) uri() bool {
	return strings.HasPrefix(d.base, "file:")
}

// memory reports whether the DSN names an in-memory (or temporary) database,
// which SQLite gives each connection a private copy of.
func (d sqliteDSN) memory() bool {
	switch d.base {
	case "", ":memory:", "file::memory:":
		return true
	}
	if d.uri() {
		q, _ := url.ParseQuery(d.query)
		return q.Get("mode") == "memory"
	}
	return false
}

// readOnly reports whether an SQLite URI opens the file read-only.
func (d sqliteDSN) readOnly() bool {
	if !d.uri() {
		return false
	}
	q, _ := url.ParseQuery(d.query)
	return q.Get("mode") == "ro"
}

// withDefaults adds the settings described at sqliteDefaults that the DSN does
// not set itself. It is idempotent.
func (d sqliteDSN) withDefaults() sqliteDSN {
	q, _ := url.ParseQuery(d.query)
	have := map[string]bool{}
	for _, p := range q["_pragma"] {
		name := strings.ToLower(strings.TrimSpace(p))
		if i := strings.IndexAny(name, "(= "); i >= 0 {
			name = name[:i]
		}
		have[name] = true
	}
	var params []string
	if d.query != "" {
		params = append(params, d.query)
	}
	for _, def := range sqliteDefaults {
		if have[def.pragma] {
			continue
		}
		if def.pragma == "journal_mode" && (d.memory() || d.readOnly()) {
			continue
		}
		params = append(params, def.param)
	}
	if _, ok := q["_txlock"]; !ok {
		params = append(params, "_txlock=immediate")
	}
	d.query = strings.Join(params, "&")
	return d
}

// isSQLitePrefix reports whether dsn starts with one of the SQLite prefixes.
func isSQLitePrefix(dsn string) bool {
	low := strings.ToLower(dsn)
	for _, p := range []string{"sqlite:", "sqlite3:", "file:"} {
		if strings.HasPrefix(low, p) {
			return true
		}
	}
	base, _, _ := strings.Cut(dsn, "?")
	return base == ":memory:"
}

// hasSQLiteSuffix reports whether the path part of dsn ends in an SQLite
// file extension.
func hasSQLiteSuffix(dsn string) bool {
	base, _, _ := strings.Cut(strings.ToLower(dsn), "?")
	for _, ext := range []string{".db", ".sqlite", ".sqlite3"} {
		if strings.HasSuffix(base, ext) {
			return true
		}
	}
	return false
}

// parseSQLite turns any accepted SQLite form into the driver DSN.
func parseSQLite(s string) (Target, error) {
	rest := s
	low := strings.ToLower(s)
	for _, p := range []string{"sqlite3://", "sqlite://", "sqlite3:", "sqlite:"} {
		if strings.HasPrefix(low, p) {
			rest = s[len(p):]
			break
		}
	}
	const hint = "write sqlite:path/to/file.db, sqlite:///absolute/path.db or sqlite::memory:"
	d := splitSQLite(rest)
	if d.base == "" || d.base == "file:" {
		return Target{}, dsnError(s, "missing the database file path", hint)
	}
	if _, err := url.ParseQuery(d.query); err != nil {
		return Target{}, dsnError(s, "malformed query parameters after '?'", "percent-encode '&', '=' and '%' inside parameter values")
	}
	return Target{Dialect: SQLite, DSN: d.withDefaults().String()}, nil
}
