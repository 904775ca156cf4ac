package dbtest

import (
	"sort"
	"testing"

	"github.com/tandemdb/tandem/internal/dialect"
)

// Exec runs one SQL statement on d.Gorm and fails the test if it errs. Write
// placeholders as ? in every dialect; GORM rewrites them for PostgreSQL.
func (d *DB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if err := d.Gorm.Exec(sql, args...).Error; err != nil {
		t.Fatalf("dbtest: exec %q on %s: %v", sql, d.Dialect, err)
	}
}

// QueryInt runs a query that returns one integer, such as SELECT COUNT(*),
// and returns it. It fails the test if the query errs, returns no row, or
// returns NULL. Placeholders are ? as for Exec.
func (d *DB) QueryInt(t testing.TB, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	res := d.Gorm.Raw(sql, args...).Scan(&n)
	if res.Error != nil {
		t.Fatalf("dbtest: query %q on %s: %v", sql, d.Dialect, res.Error)
	}
	if res.RowsAffected == 0 {
		t.Fatalf("dbtest: query %q on %s returned no row", sql, d.Dialect)
	}
	return n
}

// Columns returns the sorted column names of table, read from the dialect's
// catalog (information_schema, or pragma_table_xinfo for SQLite). A table that
// does not exist has no columns.
func (d *DB) Columns(t testing.TB, table string) []string {
	t.Helper()
	var q string
	switch d.Dialect {
	case dialect.Postgres:
		q = "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?"
	case dialect.MySQL:
		q = "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?"
	default:
		// table_xinfo also lists generated columns; hidden = 1 marks the
		// hidden columns of virtual tables, which are not table columns.
		q = "SELECT name FROM pragma_table_xinfo(?) WHERE hidden <> 1"
	}
	return d.strings(t, q, table)
}

// Tables returns the sorted names of the base tables in the database, leaving
// out SQLite's own sqlite_* tables.
func (d *DB) Tables(t testing.TB) []string {
	t.Helper()
	var q string
	switch d.Dialect {
	case dialect.Postgres:
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
	case dialect.MySQL:
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
	default:
		q = `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`
	}
	return d.strings(t, q)
}

// strings runs a one-column query and returns its values, sorted.
func (d *DB) strings(t testing.TB, sql string, args ...any) []string {
	t.Helper()
	rows, err := d.Gorm.Raw(sql, args...).Rows()
	if err != nil {
		t.Fatalf("dbtest: query %q on %s: %v", sql, d.Dialect, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("dbtest: query %q on %s: %v", sql, d.Dialect, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("dbtest: query %q on %s: %v", sql, d.Dialect, err)
	}
	sort.Strings(out)
	return out
}
