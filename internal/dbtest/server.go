package dbtest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/internal/dialect"
)

// Environment variables the harness reads.
const (
	// EnvPostgresDSN names the PostgreSQL server the harness creates its
	// databases on. The database it names must exist; it is used to CREATE
	// and DROP the per-test databases.
	EnvPostgresDSN = "TANDEM_TEST_POSTGRES_DSN"
	// EnvMySQLDSN names the MySQL/MariaDB server, as EnvPostgresDSN does.
	EnvMySQLDSN = "TANDEM_TEST_MYSQL_DSN"
	// EnvRequireDBs, set to 1, makes an unreachable server fail the test
	// instead of skipping it. CI sets it so a missing server cannot pass
	// unnoticed.
	EnvRequireDBs = "TANDEM_REQUIRE_DBS"
	// EnvSQLLog, set to 1, makes every test database log its SQL to stdout.
	EnvSQLLog = "TANDEM_TEST_SQL_LOG"
)

// Default server DSNs, used when the environment sets none.
const (
	// DefaultPostgresDSN is the PostgreSQL server of a developer machine.
	DefaultPostgresDSN = "postgres://root@127.0.0.1:5432/postgres?sslmode=disable"
	// DefaultMySQLDSN is the MySQL/MariaDB server of a developer machine.
	DefaultMySQLDSN = "root:@tcp(127.0.0.1:3306)/?parseTime=true"
)

// probeTimeout bounds the first connection to a server, so a missing server
// costs a few seconds once per process, not a connect timeout per test.
const probeTimeout = 3 * time.Second

// ServerDSN returns the admin DSN of the server for dialect name: the
// environment variable if set, else the default. It is "" for SQLite, which
// needs no server.
func ServerDSN(name dialect.Name) string {
	env, def := serverEnv(name)
	if env == "" {
		return ""
	}
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

func serverEnv(name dialect.Name) (env, def string) {
	switch name {
	case dialect.Postgres:
		return EnvPostgresDSN, DefaultPostgresDSN
	case dialect.MySQL:
		return EnvMySQLDSN, DefaultMySQLDSN
	}
	return "", ""
}

// server is the process-wide admin connection to one database server.
type server struct {
	once   sync.Once
	name   dialect.Name
	target dialect.Target
	admin  *gorm.DB
	// badDSN is set when the configured DSN does not parse: a mistake to
	// report, never a reason to skip.
	badDSN error
	// down is set when the server could not be reached.
	down error
}

var servers = map[dialect.Name]*server{
	dialect.Postgres: {name: dialect.Postgres},
	dialect.MySQL:    {name: dialect.MySQL},
}

// connect opens the admin connection once per process and remembers the
// outcome, good or bad.
func (s *server) connect() {
	s.once.Do(func() {
		t, err := dialect.ParseDSN(ServerDSN(s.name))
		if err != nil {
			s.badDSN = err
			return
		}
		s.target = t
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		defer cancel()
		db, err := dialect.Open(ctx, t, gormConfig())
		if err != nil {
			s.down = err
			return
		}
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.SetMaxOpenConns(4)
			sqlDB.SetMaxIdleConns(2)
		}
		s.admin = db
	})
}

// Require checks that dialect name can be tested: always for SQLite, and for
// PostgreSQL and MySQL when their server answers. An unreachable server skips
// the test, or fails it when TANDEM_REQUIRE_DBS=1; either way the message says
// which DSN was tried, what went wrong and how to fix it. A DSN that does not
// parse, or an unknown dialect, always fails the test.
func Require(t testing.TB, name dialect.Name) {
	t.Helper()
	require(t, name)
}

// require is Require returning the server, nil for SQLite.
func require(t testing.TB, name dialect.Name) *server {
	t.Helper()
	if name == dialect.SQLite {
		return nil
	}
	s, ok := servers[name]
	if !ok {
		t.Fatalf("dbtest: unknown dialect %q; use one of %v", name, Dialects())
		return nil
	}
	s.connect()
	env, def := serverEnv(name)
	switch {
	case s.badDSN != nil:
		t.Fatalf("dbtest: %s is set to a connection string tandem cannot read: %v", env, s.badDSN)
	case s.down != nil:
		msg := fmt.Sprintf("dbtest: %s server not available: %v\n"+
			"Start the server, or set %s to a reachable one (default %s).",
			name, s.down, env, dialect.Redact(def))
		if os.Getenv(EnvRequireDBs) == "1" {
			t.Fatalf("%s\n%s=1 is set, so a missing server fails the test.", msg, EnvRequireDBs)
		}
		t.Skipf("%s\nSkipping; set %s=1 to fail instead of skipping.", msg, EnvRequireDBs)
	}
	return s
}

// gormConfig is the GORM configuration of every database the harness opens:
// silent, unless TANDEM_TEST_SQL_LOG=1 asks for every statement.
func gormConfig() *gorm.Config {
	if os.Getenv(EnvSQLLog) == "1" {
		return &gorm.Config{Logger: logger.Default.LogMode(logger.Info)}
	}
	return &gorm.Config{Logger: logger.Discard}
}
