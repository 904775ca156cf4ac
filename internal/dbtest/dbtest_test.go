package dbtest_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
)

func TestForEachDialectGivesWorkingDatabase(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		if db.Gorm == nil || db.Name == "" || db.DSN == "" {
			t.Fatalf("incomplete DB: %+v", db)
		}
		if got := dialect.Of(db.Gorm); got != db.Dialect {
			t.Fatalf("dialect.Of = %q, want %q", got, db.Dialect)
		}
		if got := db.Tables(t); len(got) != 0 {
			t.Fatalf("fresh database has tables %v", got)
		}

		db.Exec(t, "CREATE TABLE widgets (id INTEGER PRIMARY KEY, name VARCHAR(50), weight INTEGER)")
		db.Exec(t, "CREATE TABLE gadgets (id INTEGER PRIMARY KEY)")
		db.Exec(t, "INSERT INTO widgets (id, name, weight) VALUES (?, ?, ?), (?, ?, ?)", 1, "bolt", 3, 2, "nut", 4)

		if got, want := db.Tables(t), []string{"gadgets", "widgets"}; !slices.Equal(got, want) {
			t.Errorf("Tables = %v, want %v", got, want)
		}
		if got, want := db.Columns(t, "widgets"), []string{"id", "name", "weight"}; !slices.Equal(got, want) {
			t.Errorf("Columns = %v, want %v", got, want)
		}
		if got := db.Columns(t, "no_such_table"); len(got) != 0 {
			t.Errorf("Columns of a missing table = %v, want none", got)
		}
		if got := db.QueryInt(t, "SELECT SUM(weight) FROM widgets WHERE name <> ?", "none"); got != 7 {
			t.Errorf("QueryInt = %d, want 7", got)
		}

		// A second pool acts as another instance: it sees committed rows.
		other := db.Open(t)
		var n int64
		if err := other.Raw("SELECT COUNT(*) FROM widgets").Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("other instance counts %d widgets, want 2", n)
		}
		a, _ := db.Gorm.DB()
		b, _ := other.DB()
		if a == b {
			t.Error("Open returned the same connection pool")
		}

		// The DSN is one the CLI could open: it parses to the same dialect
		// and reaches the same database.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cli, err := dialect.OpenDSN(ctx, db.DSN, nil)
		if err != nil {
			t.Fatalf("open DSN %s: %v", dialect.Redact(db.DSN), err)
		}
		defer func() {
			s, _ := cli.DB()
			_ = s.Close()
		}()
		if dialect.Of(cli) != db.Dialect {
			t.Errorf("DSN %s opens dialect %q, want %q", db.DSN, dialect.Of(cli), db.Dialect)
		}
		if err := cli.Raw("SELECT COUNT(*) FROM gadgets").Scan(&n).Error; err != nil {
			t.Errorf("DSN %s does not reach the test database: %v", db.DSN, err)
		}
	})
}

func TestNewGivesIsolatedDatabases(t *testing.T) {
	for _, name := range dbtest.Dialects() {
		t.Run(string(name), func(t *testing.T) {
			t.Parallel()
			a := dbtest.New(t, name)
			b := dbtest.New(t, name)
			if a.Name == b.Name || a.DSN == b.DSN {
				t.Fatalf("two New calls share a database: %q and %q", a.Name, b.Name)
			}
			a.Exec(t, "CREATE TABLE only_in_a (id INTEGER)")
			if got := b.Tables(t); len(got) != 0 {
				t.Fatalf("b sees tables %v created in a", got)
			}
		})
	}
}

func TestCleanupDropsDatabase(t *testing.T) {
	for _, name := range dbtest.Dialects() {
		t.Run(string(name), func(t *testing.T) {
			dbtest.Require(t, name)
			var created string
			t.Run("inner", func(t *testing.T) {
				db := dbtest.New(t, name)
				created = db.Name
				db.Exec(t, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
				// A transaction left open must not keep the database alive.
				tx := db.Open(t).Begin()
				if err := tx.Exec("INSERT INTO t (id) VALUES (1)").Error; err != nil {
					t.Fatal(err)
				}
			})
			if created == "" {
				t.Fatal("inner test created no database")
			}
			if databaseExists(t, name, created) {
				t.Fatalf("database %s still exists after cleanup", created)
			}
		})
	}
}

// databaseExists asks the server (or the file system, for SQLite) whether a
// test database is still there.
func databaseExists(t *testing.T, name dialect.Name, db string) bool {
	t.Helper()
	if name == dialect.SQLite {
		_, err := os.Stat(db)
		return err == nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := dialect.OpenDSN(ctx, dbtest.ServerDSN(name), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		s, _ := admin.DB()
		_ = s.Close()
	}()
	q := "SELECT COUNT(*) FROM pg_database WHERE datname = ?"
	if name == dialect.MySQL {
		q = "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?"
	}
	var n int64
	if err := admin.Raw(q, db).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestServerDSN(t *testing.T) {
	tests := []struct {
		name dialect.Name
		env  string
		set  string
		want string
	}{
		{dialect.Postgres, dbtest.EnvPostgresDSN, "", dbtest.DefaultPostgresDSN},
		{dialect.Postgres, dbtest.EnvPostgresDSN, "postgres://u@h:1/x", "postgres://u@h:1/x"},
		{dialect.MySQL, dbtest.EnvMySQLDSN, "", dbtest.DefaultMySQLDSN},
		{dialect.MySQL, dbtest.EnvMySQLDSN, "mysql://u@h:1/", "mysql://u@h:1/"},
		{dialect.SQLite, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.name)+"/"+tt.set, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv(tt.env, tt.set)
			}
			if got := dbtest.ServerDSN(tt.name); got != tt.want {
				t.Errorf("ServerDSN = %q, want %q", got, tt.want)
			}
		})
	}
	for _, dsn := range []string{dbtest.DefaultPostgresDSN, dbtest.DefaultMySQLDSN} {
		if _, err := dialect.ParseDSN(dsn); err != nil {
			t.Errorf("default %q does not parse: %v", dsn, err)
		}
	}
}
