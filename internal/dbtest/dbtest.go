package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"
)

// Pool limits of every test database connection pool: small, so that a
// suite with many parallel tests stays far below the server's
// max_connections.
const (
	maxOpenConns = 10
	maxIdleConns = 2
)

// setupTimeout bounds creating, opening and dropping one test database.
const setupTimeout = time.Minute

// DB is one fresh, isolated database for one test.
type DB struct {
	// Dialect is the dialect of the database.
	Dialect dialect.Name
	// Name is the database name (PostgreSQL, MySQL) or the file path (SQLite).
	Name string
	// DSN is a connection string another process or the tandem CLI can open,
	// e.g. postgres://root@127.0.0.1:5432/tandem_t_1a2b3c4d?sslmode=disable
	// or sqlite:/tmp/TestX123/001/test.db.
	DSN string
	// Gorm is an open connection pool on the database, closed at cleanup.
	Gorm *gorm.DB

	target dialect.Target
	srv    *server

	mu    sync.Mutex
	pools []*sql.DB
}

// Dialects returns every dialect the harness can test, in the order
// ForEachDialect runs them: sqlite, postgres, mysql.
func Dialects() []dialect.Name {
	return []dialect.Name{dialect.SQLite, dialect.Postgres, dialect.MySQL}
}

// ForEachDialect runs fn as a subtest named after each dialect, each with a
// fresh database from New. A dialect whose server is unreachable is skipped
// (or fails, see Require). ForEachDialect does not call t.Parallel; fn may.
func ForEachDialect(t *testing.T, fn func(t *testing.T, db *DB)) {
	t.Helper()
	for _, name := range Dialects() {
		t.Run(string(name), func(t *testing.T) {
			fn(t, New(t, name))
		})
	}
}

// New creates a fresh database of dialect name for the test and opens it.
//
// PostgreSQL and MySQL databases are created on the server of ServerDSN under
// a random name, tandem_t_ and 8 hex digits from crypto/rand, so parallel
// tests and parallel test processes never share one. An SQLite database is a
// file in t.TempDir(). At cleanup, whether the test passed or not, every pool
// opened on the database is closed and the database is dropped (PostgreSQL:
// DROP DATABASE ... WITH (FORCE), which needs PostgreSQL 13 or later; MySQL:
// leftover connections are killed, then DROP DATABASE IF EXISTS).
//
// New skips or fails the test as Require does when the server is unreachable.
func New(t testing.TB, name dialect.Name) *DB {
	t.Helper()
	if name == dialect.SQLite {
		return newSQLite(t)
	}
	srv := require(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	dbName, err := srv.create(ctx)
	if err != nil {
		t.Fatalf("dbtest: create %s test database: %v", name, err)
	}
	d := &DB{Dialect: name, Name: dbName, srv: srv}
	// Registered before any pool is opened, so that it runs after the pools
	// registered by Open are closed.
	t.Cleanup(func() { d.drop(t) })

	d.target, err = srv.target.WithDatabase(dbName)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	d.DSN = d.target.DSN
	d.Gorm = d.open(t)
	return d
}

// newSQLite makes an SQLite database in t.TempDir().
func newSQLite(t testing.TB) *DB {
	t.Helper()
	// TempDir registers its removal first, so it runs after the pools close.
	path := filepath.Join(t.TempDir(), "test.db")
	dsn := "sqlite:" + path
	target, err := dialect.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	d := &DB{Dialect: dialect.SQLite, Name: path, DSN: dsn, target: target}
	t.Cleanup(d.closeAll)
	d.Gorm = d.open(t)
	return d
}

// Open returns a second, independent *gorm.DB with its own connection pool on
// the same database, closed when t's cleanup runs. Tests use it to act as
// another instance of a service.
func (d *DB) Open(t testing.TB) *gorm.DB {
	t.Helper()
	db := d.open(t)
	sqlDB, _ := db.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db
}

// open opens a pool on the database and remembers it for closeAll.
func (d *DB) open(t testing.TB) *gorm.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	db, err := dialect.Open(ctx, d.target, gormConfig())
	if err != nil {
		t.Fatalf("dbtest: open test database: %v", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatalf("dbtest: open test database: %v", err)
	}
	if d.Dialect != dialect.SQLite {
		sqlDB.SetMaxOpenConns(maxOpenConns)
		sqlDB.SetMaxIdleConns(maxIdleConns)
	}
	d.mu.Lock()
	d.pools = append(d.pools, sqlDB)
	d.mu.Unlock()
	return db
}

// closeAll closes every pool opened on the database. Closing is idempotent.
func (d *DB) closeAll() {
	d.mu.Lock()
	pools := d.pools
	d.pools = nil
	d.mu.Unlock()
	for _, p := range pools {
		_ = p.Close()
	}
}

// drop closes the pools and drops the database from the admin connection.
func (d *DB) drop(t testing.TB) {
	d.closeAll()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := d.srv.drop(ctx, d.Name); err != nil {
		t.Errorf("dbtest: drop test database %s: %v", d.Name, err)
	}
}

// create makes a database with a fresh random name and returns the name.
func (s *server) create(ctx context.Context) (string, error) {
	for attempt := 1; ; attempt++ {
		name, err := randomName()
		if err != nil {
			return "", err
		}
		q := "CREATE DATABASE " + dialect.QuoteIdent(s.name, name)
		if s.name == dialect.MySQL {
			q += " CHARACTER SET utf8mb4"
		}
		err = s.admin.WithContext(ctx).Exec(q).Error
		if err == nil {
			return name, nil
		}
		// A name already taken is the only failure worth a second try.
		if exists, xerr := s.exists(ctx, name); xerr != nil || !exists || attempt == 3 {
			return "", fmt.Errorf("%s: %w", q, err)
		}
	}
}

// exists reports whether database name exists on the server.
func (s *server) exists(ctx context.Context, name string) (bool, error) {
	q := "SELECT COUNT(*) FROM pg_database WHERE datname = ?"
	if s.name == dialect.MySQL {
		q = "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?"
	}
	var n int64
	err := s.admin.WithContext(ctx).Raw(q, name).Scan(&n).Error
	return n > 0, err
}

// drop drops database name, disconnecting whoever is still on it.
func (s *server) drop(ctx context.Context, name string) error {
	db := s.admin.WithContext(ctx)
	switch s.name {
	case dialect.Postgres:
		return db.Exec("DROP DATABASE IF EXISTS " + dialect.QuoteIdent(s.name, name) + " WITH (FORCE)").Error
	case dialect.MySQL:
		// A connection leaked with an open transaction holds a metadata
		// lock that would make DROP DATABASE wait for lock_wait_timeout.
		var ids []int64
		if err := db.Raw("SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()", name).Scan(&ids).Error; err != nil {
			return err
		}
		for _, id := range ids {
			// The connection may have ended on its own meanwhile.
			_ = db.Exec(fmt.Sprintf("KILL %d", id)).Error
		}
		return db.Exec("DROP DATABASE IF EXISTS " + dialect.QuoteIdent(s.name, name)).Error
	}
	return nil
}

// randomName returns tandem_t_ followed by 8 random hex digits.
func randomName() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random database name: %w", err)
	}
	return "tandem_t_" + hex.EncodeToString(b[:]), nil
}

// Busy runs statements on a pool of its own, as fast as the server answers
// them, until the returned function is called; that function fails t if a
// statement failed. It stands in for a busy service next to the code
// under test. On PostgreSQL each statement reads a table, as a service's
// do: a session that reads none never publishes its transaction counts to
// pg_stat_database.
func (d *DB) Busy(t testing.TB) (stop func()) {
	t.Helper()
	other := d.Open(t)
	q := "SELECT 1"
	if d.Dialect == dialect.Postgres {
		q = "SELECT relname FROM pg_class WHERE oid = 'pg_class'::regclass"
	}
	quit := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for {
			select {
			case <-quit:
				done <- nil
				return
			default:
			}
			if err := other.Exec(q).Error; err != nil {
				done <- err
				return
			}
		}
	}()
	return sync.OnceFunc(func() {
		close(quit)
		if err := <-done; err != nil {
			t.Errorf("dbtest: busy session: %v", err)
		}
	})
}
