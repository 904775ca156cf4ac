// Package dbtest gives each test its own fresh database on SQLite, PostgreSQL
// and MySQL/MariaDB, and drops it when the test ends.
//
// The servers are found through TANDEM_TEST_POSTGRES_DSN and
// TANDEM_TEST_MYSQL_DSN (defaults: root on 127.0.0.1, ports 5432 and 3306).
// A server that does not answer skips the tests that need it, loudly; with
// TANDEM_REQUIRE_DBS=1 it fails them instead, which is what CI should set.
//
// Example:
//
//	func TestWidgets(t *testing.T) {
//		dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
//			db.Exec(t, "CREATE TABLE widgets (id INTEGER PRIMARY KEY, name VARCHAR(50))")
//			db.Exec(t, "INSERT INTO widgets (id, name) VALUES (?, ?)", 1, "bolt")
//
//			other := db.Open(t) // a second instance on the same database
//			var n int64
//			other.Raw("SELECT COUNT(*) FROM widgets").Scan(&n)
//			if n != 1 {
//				t.Fatalf("other instance sees %d widgets, want 1", n)
//			}
//			if got := db.Columns(t, "widgets"); !slices.Equal(got, []string{"id", "name"}) {
//				t.Fatalf("columns = %v", got)
//			}
//		})
//	}
package dbtest
