package dialect_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
)

// quiet keeps GORM from printing the errors these tests provoke.
func quiet() *gorm.Config {
	return &gorm.Config{Logger: logger.Discard}
}

func openCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func closeDB(t *testing.T, db *gorm.DB) {
	t.Helper()
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			_ = s.Close()
		}
	})
}

func TestOpenSQLite(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		dsn     string
		journal string
		maxOpen int // 0: unlimited
	}{
		{"sqlite prefix", "sqlite:" + filepath.Join(dir, "a.db"), "wal", 0},
		{"bare path", filepath.Join(dir, "b.sqlite"), "wal", 0},
		{"file URI", "file:" + filepath.Join(dir, "c.db") + "?cache=private", "wal", 0},
		{"own journal mode", filepath.Join(dir, "d.db") + "?_pragma=journal_mode(DELETE)", "delete", 0},
		{"memory", "sqlite::memory:", "memory", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := dialect.OpenDSN(openCtx(t), tt.dsn, quiet())
			if err != nil {
				t.Fatal(err)
			}
			closeDB(t, db)
			if got := dialect.Of(db); got != dialect.SQLite {
				t.Errorf("Of = %q, want sqlite", got)
			}
			var (
				fk, busy int64
				journal  string
			)
			if err := db.Raw("PRAGMA foreign_keys").Scan(&fk).Error; err != nil {
				t.Fatal(err)
			}
			if err := db.Raw("PRAGMA busy_timeout").Scan(&busy).Error; err != nil {
				t.Fatal(err)
			}
			if err := db.Raw("PRAGMA journal_mode").Scan(&journal).Error; err != nil {
				t.Fatal(err)
			}
			if fk != 1 || busy != 10000 || journal != tt.journal {
				t.Errorf("foreign_keys=%d busy_timeout=%d journal_mode=%s, want 1, 10000, %s", fk, busy, journal, tt.journal)
			}

			// Foreign keys are enforced, and the schema is visible to every
			// query, however the pool hands out connections.
			for _, q := range []string{
				"CREATE TABLE parent (id INTEGER PRIMARY KEY)",
				"CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id))",
				"INSERT INTO parent (id) VALUES (1)",
				"INSERT INTO child (id, parent_id) VALUES (1, 1)",
			} {
				if err := db.Exec(q).Error; err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if err := db.Exec("INSERT INTO child (id, parent_id) VALUES (2, 99)").Error; err == nil {
				t.Error("insert with a missing parent succeeded; foreign keys are not enforced")
			}
			sqlDB, _ := db.DB()
			if got := sqlDB.Stats().MaxOpenConnections; got != tt.maxOpen {
				t.Errorf("MaxOpenConnections = %d, want %d", got, tt.maxOpen)
			}
		})
	}
}

// TestOpenSQLiteSharedFile opens one file from two pools, as two instances of
// a service would, and has both write in transactions.
func TestOpenSQLiteSharedFile(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "shared.db")
	a, err := dialect.OpenDSN(openCtx(t), dsn, quiet())
	if err != nil {
		t.Fatal(err)
	}
	closeDB(t, a)
	b, err := dialect.OpenDSN(openCtx(t), dsn, quiet())
	if err != nil {
		t.Fatal(err)
	}
	closeDB(t, b)
	if err := a.Exec("CREATE TABLE counter (n INTEGER)").Error; err != nil {
		t.Fatal(err)
	}
	if err := a.Exec("INSERT INTO counter (n) VALUES (0)").Error; err != nil {
		t.Fatal(err)
	}
	const rounds = 20
	errs := make(chan error, 2)
	for _, db := range []*gorm.DB{a, b} {
		go func() {
			for range rounds {
				err := db.Transaction(func(tx *gorm.DB) error {
					var n int64
					if err := tx.Raw("SELECT n FROM counter").Scan(&n).Error; err != nil {
						return err
					}
					return tx.Exec("UPDATE counter SET n = ?", n+1).Error
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("read-then-write transaction: %v", err)
		}
	}
	var n int64
	if err := b.Raw("SELECT n FROM counter").Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	if n != 2*rounds {
		t.Errorf("counter = %d, want %d: an increment was lost", n, 2*rounds)
	}
}

func TestOpenServers(t *testing.T) {
	for _, name := range []dialect.Name{dialect.Postgres, dialect.MySQL} {
		t.Run(string(name), func(t *testing.T) {
			db := dbtest.New(t, name)
			opened, err := dialect.OpenDSN(openCtx(t), db.DSN, quiet())
			if err != nil {
				t.Fatal(err)
			}
			closeDB(t, opened)
			if got := dialect.Of(opened); got != name {
				t.Errorf("Of = %q, want %q", got, name)
			}
			// Times scan into time.Time (MySQL needs parseTime=true for it).
			var now time.Time
			if err := opened.Raw("SELECT CURRENT_TIMESTAMP").Scan(&now).Error; err != nil {
				t.Fatalf("scan a timestamp: %v", err)
			}
			if now.IsZero() {
				t.Error("CURRENT_TIMESTAMP scanned as the zero time")
			}
			// QuoteIdent produces identifiers the server accepts.
			table := dialect.QuoteIdent(name, `odd"name`+"`x")
			if err := opened.Exec("CREATE TABLE " + table + " (id INTEGER)").Error; err != nil {
				t.Fatalf("create table %s: %v", table, err)
			}
			if got := db.Tables(t); len(got) != 1 || got[0] != `odd"name`+"`x" {
				t.Errorf("Tables = %q", got)
			}
		})
	}
}

func TestOpenMySQLRequiresParseTime(t *testing.T) {
	target := dialect.Target{Dialect: dialect.MySQL, DSN: "root:s3cret@tcp(127.0.0.1:3306)/x"}
	_, err := dialect.Open(openCtx(t), target, quiet())
	var de *dialect.DSNError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "parseTime=true is required") {
		t.Fatalf("Open = %v, want a DSNError about parseTime", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	const secret = "Hunter2-pw"
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		dsn     string
		ctx     context.Context
		require dialect.Name // a server the case needs, or ""
		want    []string
	}{
		{"postgres down", "postgres://root:" + secret + "@127.0.0.1:1/x?sslmode=disable", nil, "",
			[]string{"open postgres database", "root:xxxxx@127.0.0.1:1", "hint: is the PostgreSQL server running"}},
		{"mysql down", "mysql://root:" + secret + "@127.0.0.1:1/x", nil, "",
			[]string{"open mysql database", "root:xxxxx@tcp(127.0.0.1:1)", "hint: is the MySQL/MariaDB server running"}},
		{"sqlite missing directory", "sqlite:" + filepath.Join(t.TempDir(), "no", "such", "dir", "x.db"), nil, "",
			[]string{"open sqlite database", "hint: check that the directory"}},
		{"mysql wrong password", "root:" + secret + "@tcp(127.0.0.1:3306)/", nil, dialect.MySQL,
			[]string{"open mysql database", "root:xxxxx@tcp(127.0.0.1:3306)", "hint:"}},
		{"postgres canceled", "postgres://root:" + secret + "@127.0.0.1:5432/postgres?sslmode=disable", canceled, "",
			[]string{"open postgres database"}},
		{"mysql canceled", "mysql://root:" + secret + "@127.0.0.1:3306/", canceled, "",
			[]string{"open mysql database"}},
		{"sqlite canceled", "sqlite::memory:", canceled, "",
			[]string{"open sqlite database"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.require != "" {
				dbtest.Require(t, tt.require)
			}
			ctx := tt.ctx
			if ctx == nil {
				ctx = openCtx(t)
			}
			db, err := dialect.OpenDSN(ctx, tt.dsn, quiet())
			if err == nil {
				closeDB(t, db)
				t.Fatal("Open succeeded, want an error")
			}
			var oe *dialect.OpenError
			if !errors.As(err, &oe) {
				t.Fatalf("error %T is not an *OpenError: %v", err, err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error shows the password: %s", msg)
			}
		})
	}
}

func TestOpenUnknownDialect(t *testing.T) {
	_, err := dialect.Open(openCtx(t), dialect.Target{Dialect: "oracle", DSN: "scott:tiger@db"}, nil)
	if !errors.Is(err, dialect.ErrUnknownDialect) {
		t.Fatalf("Open = %v, want ErrUnknownDialect", err)
	}
	if strings.Contains(err.Error(), "tiger") {
		t.Errorf("error shows the password: %v", err)
	}
}
